// Package create is "dpsctl cert create" with its kinds "root",
// "intermediate" and "device".
package create

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Certificate kinds.
const (
	KindRoot         = "root"
	KindIntermediate = "intermediate"
	KindDevice       = "device"
)

// Default common names of the CA kinds.
const (
	DefaultRootCN         = "dpsctl Test Root CA"
	DefaultIntermediateCN = "dpsctl Test Intermediate CA"
)

// CreateOptions are the inputs of "cert create <kind>".
type CreateOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Quiet   func() bool
	Now     func() time.Time

	Kind           string // KindRoot, KindIntermediate or KindDevice
	CommonName     string // root and intermediate
	RegistrationID string // device: the subject CN
	CAFile         string
	CAKeyFile      string
	CertFile       string // "" means the kind's default
	KeyFile        string // "" means the kind's default
	KeyType        string
	RSABits        int
	NotAfter       string
	Organization   string
	PathLen        int
	IncludeChain   bool // device: append the issuing CA's chain
	Force          bool
}

// NewCmdCreate builds "dpsctl cert create" and its kinds. runF, when set,
// receives the options of whichever kind runs.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create {root | intermediate | device} [flags]",
		Short: "Create a test PKI: root, intermediate and device certificates",
		Long: `Create certificates and new private keys for testing X.509 attestation,
in labs and CI, without openssl:

  root          a self-signed root CA
  intermediate  a CA signed by --ca/--ca-key
  device        a device (leaf) certificate whose subject CN is the
                registration ID, with the clientAuth extended key usage,
                signed by --ca/--ca-key or self-signed without them

Keys are ECDSA P-256 unless --key-type rsa (--rsa-bits 2048, 3072 or 4096).
Each command writes a PEM certificate file and an unencrypted PKCS#8 PEM key
file with mode 0600, and refuses to overwrite existing files unless --force.

These certificates are for tests and the local service, not production.`,
		Example: `  # a test PKI: root, intermediate, device (root.pem/root.key,
  # intermediate.pem/intermediate.key, dev-1.pem/dev-1.key)
  dpsctl cert create root
  dpsctl cert create intermediate --ca root.pem --ca-key root.key
  dpsctl cert create device --registration-id dev-1 --ca intermediate.pem --ca-key intermediate.key

  # check the result the way the service will
  dpsctl cert verify dev-1.pem --root root.pem --registration-id dev-1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmdutil.FlagErrorf("name the kind of certificate: root, intermediate or device")
			}
			return cmdutil.FlagErrorf("unknown kind %q: use root, intermediate or device", args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error { return nil },
	}
	cmd.AddCommand(
		newCmdKind(f, runF, KindRoot),
		newCmdKind(f, runF, KindIntermediate),
		newCmdKind(f, runF, KindDevice),
	)
	return cmd
}

func newCmdKind(f *cmdutil.Factory, runF func(*CreateOptions) error, kind string) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Printer: f.Printer, Quiet: f.Quiet, Now: time.Now, Kind: kind}
	cmd := &cobra.Command{
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				// Hidden fallback: "device <registration-id>".
				if opts.RegistrationID != "" && opts.RegistrationID != args[0] {
					return cmdutil.FlagErrorf("the registration ID is given twice: %q and --registration-id %q", args[0], opts.RegistrationID)
				}
				opts.RegistrationID = args[0]
			}
			if err := validate(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	switch kind {
	case KindRoot:
		cmd.Use = "root [flags]"
		cmd.Short = "Create a self-signed root CA"
		cmd.Long = `Create a self-signed root CA certificate and its key, for signing
intermediates and device certificates and for enrollment groups.

Files: --cert-file (default root.pem) and --key-file (default root.key,
mode 0600). The common name defaults to "` + DefaultRootCN + `" and the
validity to 5 years.`
		cmd.Example = `  dpsctl cert create root
  dpsctl cert create root --common-name "Contoso Lab Root" --organization Contoso \
    --cert-file contoso-root.pem --key-file contoso-root.key --not-after 2035-01-01
  dpsctl cert create root --key-type rsa --rsa-bits 4096 --path-len 1`
		cmd.Args = cmdutil.ExactArgs(0, "root takes no arguments; the common name is --common-name")
		fl.StringVar(&opts.CommonName, "common-name", DefaultRootCN, "Subject common name (CN)")
	case KindIntermediate:
		cmd.Use = "intermediate --ca <file> --ca-key <file> [flags]"
		cmd.Short = "Create an intermediate CA signed by another CA"
		cmd.Long = `Create an intermediate CA certificate and its key, signed by the CA given
with --ca and --ca-key (a root or another intermediate).

Files: --cert-file (default intermediate.pem) and --key-file (default
intermediate.key, mode 0600). The common name defaults to
"` + DefaultIntermediateCN + `" and the validity to 5 years, but never
beyond the issuing CA's own expiry.`
		cmd.Example = `  dpsctl cert create intermediate --ca root.pem --ca-key root.key
  dpsctl cert create intermediate --ca root.pem --ca-key root.key \
    --common-name "Line 2 CA" --cert-file line2.pem --key-file line2.key --path-len 0`
		cmd.Args = cmdutil.ExactArgs(0, "intermediate takes no arguments; the common name is --common-name")
		fl.StringVar(&opts.CommonName, "common-name", DefaultIntermediateCN, "Subject common name (CN)")
	case KindDevice:
		cmd.Use = "device --registration-id <id> [--ca <file> --ca-key <file>] [flags]"
		cmd.Short = "Create a device certificate (CN = registration ID)"
		cmd.Long = `Create a device (leaf) certificate and its key. The subject CN is the
registration ID (at most 64 characters of letters, digits, '-', '.', '_'
and ':'), the extended key usage is clientAuth and the key usage
digitalSignature, as the provisioning service expects.

It is signed by --ca/--ca-key, or self-signed without them (an individual
enrollment may use a self-signed certificate). When signed by a CA, the
certificate file also holds the CA's chain except a self-signed root:
the chain a device presents. --include-chain=false writes the device
certificate alone.

Files: --cert-file (default <registration-id>.pem) and --key-file (default
<registration-id>.key, mode 0600). The validity defaults to 1 year, but
never beyond the issuing CA's own expiry.`
		cmd.Example = `  dpsctl cert create device --registration-id dev-1 --ca intermediate.pem --ca-key intermediate.key
  dpsctl cert create device --registration-id dev-2 --not-after 30d      # self-signed
  dpsctl cert create device --registration-id dev-3 --ca root.pem --ca-key root.key --key-type rsa`
		cmd.Args = cmdutil.MaximumArgs(1, "device takes no arguments; the registration ID is --registration-id")
		fl.StringVar(&opts.RegistrationID, "registration-id", "", "Registration ID: the subject CN (required)")
		fl.BoolVar(&opts.IncludeChain, "include-chain", true, "Append the issuing CA's chain (without a self-signed root) to the certificate file")
		// Earlier spelling.
		fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
			if name == "chain" {
				name = "include-chain"
			}
			return pflag.NormalizedName(name)
		})
	}
	if kind != KindRoot {
		fl.StringVar(&opts.CAFile, "ca", "", "Issuing CA certificate file (its chain may follow it)")
		fl.StringVar(&opts.CAKeyFile, "ca-key", "", "Private key file of the issuing CA")
		cmdutil.FileFlag(cmd, "ca", shared.CertExts...)
		cmdutil.FileFlag(cmd, "ca-key", shared.KeyExts...)
	}
	if kind != KindDevice {
		fl.IntVar(&opts.PathLen, "path-len", -1, "Maximum number of CA certificates below this one (-1 for no limit)")
	} else {
		opts.PathLen = -1
	}
	fl.StringVar(&opts.Organization, "organization", "", "Organization (O) added to the subject")
	cmdutil.StringEnumFlag(cmd, &opts.KeyType, "key-type", "", string(certs.KeyECDSA), []string{string(certs.KeyECDSA), string(certs.KeyRSA)}, "Key algorithm")
	fl.IntVar(&opts.RSABits, "rsa-bits", 2048, "RSA key size: 2048, 3072 or 4096")
	fl.StringVar(&opts.NotAfter, "not-after", "", "End of validity: a date (2030-01-02), an RFC 3339 time or a duration from now (720h, 90d)")
	fl.StringVar(&opts.CertFile, "cert-file", "", "Certificate file to write (default "+defaultCertFile(kind)+")")
	fl.StringVar(&opts.KeyFile, "key-file", "", "Private key file to write (default "+defaultKeyFile(kind)+")")
	fl.BoolVar(&opts.Force, "force", false, "Overwrite existing files")
	_ = cmd.RegisterFlagCompletionFunc("registration-id", cobra.NoFileCompletions)
	return cmd
}

func defaultCertFile(kind string) string {
	if kind == KindDevice {
		return "<registration-id>.pem"
	}
	return kind + ".pem"
}

func defaultKeyFile(kind string) string {
	if kind == KindDevice {
		return "<registration-id>.key"
	}
	return kind + ".key"
}

// Files returns the certificate and key files opts writes.
func (opts *CreateOptions) Files() (certFile, keyFile string) {
	base := opts.Kind
	if opts.Kind == KindDevice {
		base = opts.RegistrationID
	}
	certFile, keyFile = opts.CertFile, opts.KeyFile
	if certFile == "" {
		certFile = base + ".pem"
	}
	if keyFile == "" {
		keyFile = base + ".key"
	}
	return certFile, keyFile
}

func validate(opts *CreateOptions) error {
	if (opts.CAFile == "") != (opts.CAKeyFile == "") {
		return cmdutil.FlagErrorf("--ca and --ca-key go together")
	}
	switch opts.Kind {
	case KindDevice:
		if opts.RegistrationID == "" {
			return cmdutil.FlagErrorf("--registration-id is required: it becomes the certificate's subject CN")
		}
		if err := certs.ValidateRegistrationID(opts.RegistrationID); err != nil {
			return cmdutil.FlagErrorf("--registration-id %q: %v", opts.RegistrationID, err)
		}
	case KindIntermediate:
		if opts.CAFile == "" {
			return cmdutil.FlagErrorf("intermediate needs --ca and --ca-key: the CA that signs it")
		}
		fallthrough
	case KindRoot:
		cn := strings.TrimSpace(opts.CommonName)
		if cn == "" || len(cn) > 64 {
			return cmdutil.FlagErrorf("--common-name must be 1 to 64 characters")
		}
		opts.CommonName = cn
		if opts.PathLen < -1 {
			return cmdutil.FlagErrorf("--path-len must be -1 (no limit) or more")
		}
	}
	if opts.KeyType != string(certs.KeyRSA) && opts.RSABits != 2048 {
		return cmdutil.FlagErrorf("--rsa-bits needs --key-type rsa")
	}
	if certFile, keyFile := opts.Files(); certFile == keyFile {
		return cmdutil.FlagErrorf("the certificate and the key would both go to %s", certFile)
	}
	return nil
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	now := opts.Now()
	certFile, keyFile := opts.Files()
	if !opts.Force {
		for _, path := range []string{certFile, keyFile} {
			if _, err := os.Lstat(path); err == nil {
				return fmt.Errorf("%s already exists; --force overwrites it", path)
			}
		}
	}
	name := opts.CommonName
	if opts.Kind == KindDevice {
		name = opts.RegistrationID
	}
	co := certs.Options{
		CommonName:   name,
		Organization: opts.Organization,
		KeyType:      certs.KeyType(opts.KeyType),
		RSABits:      opts.RSABits,
		MaxPathLen:   opts.PathLen,
	}
	if opts.PathLen == 0 {
		co.MaxPathLenZero = true
	}
	if opts.NotAfter != "" {
		t, err := shared.ParseTime(opts.NotAfter, now)
		if err != nil {
			return cmdutil.FlagErrorf("--not-after: %v", err)
		}
		if !t.After(now) {
			return cmdutil.FlagErrorf("--not-after %s is in the past", t.UTC().Format(time.RFC3339))
		}
		co.NotAfter = t
	}
	var (
		ca      *certs.Pair
		caChain []*x509.Certificate
	)
	if opts.CAFile != "" {
		if ca, caChain, err = shared.ReadCA(opts.IO, opts.CAFile, opts.CAKeyFile); err != nil {
			return err
		}
		if ps := certs.CheckSigningCertificate(ca.Cert, now); len(ps) > 0 {
			return fmt.Errorf("--ca %s cannot issue certificates: %w", opts.CAFile, certs.Error(ps))
		}
		if !co.NotAfter.IsZero() && co.NotAfter.After(ca.Cert.NotAfter) {
			return cmdutil.FlagErrorf("--not-after %s is later than the CA's own expiry %s", co.NotAfter.UTC().Format(time.RFC3339), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if co.NotAfter.IsZero() {
			// The default lifetime must not outlive the CA.
			def := certs.DefaultDeviceValidity
			if opts.Kind == KindIntermediate {
				def = certs.DefaultCAValidity
			}
			if now.Add(def).After(ca.Cert.NotAfter) {
				co.NotAfter = ca.Cert.NotAfter
			}
		}
	}

	var pair *certs.Pair
	switch opts.Kind {
	case KindRoot:
		pair, err = certs.NewRoot(co)
	case KindIntermediate:
		pair, err = certs.NewIntermediate(ca, co)
	default:
		pair, err = certs.NewDevice(ca, opts.RegistrationID, co)
	}
	if err != nil {
		return err
	}
	var chain []*x509.Certificate
	if ca != nil && opts.IncludeChain && opts.Kind == KindDevice {
		for _, c := range append([]*x509.Certificate{ca.Cert}, caChain...) {
			if certs.Inspect(c).SelfSigned {
				continue
			}
			chain = append(chain, c)
		}
	}
	if err := certs.WritePair(pair, chain, certFile, keyFile, opts.Force); err != nil {
		return err
	}
	if opts.Quiet == nil || !opts.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "Created %s certificate %s in %s, key in %s\n", opts.Kind, certs.Info(pair.Cert).SubjectName, certFile, keyFile)
	}
	return output.Print(p, shared.NewCreated(opts.Kind, pair.Cert, certFile, keyFile), shared.CreatedColumns)
}
