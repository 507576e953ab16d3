// Package create is "dpsctl cert create".
package create

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// Certificate kinds.
const (
	KindDevice       = "device"
	KindRoot         = "root"
	KindIntermediate = "intermediate"
)

// CreateOptions are the inputs of "cert create".
type CreateOptions struct {
	IO      *iostreams.IOStreams
	Printer func() (*output.Printer, error)
	Quiet   func() bool
	Now     func() time.Time

	Name         string // device: the registration ID; CA: the common name
	Kind         string
	CAFile       string
	CAKeyFile    string
	CertFile     string
	KeyFile      string
	KeyType      string
	RSABits      int
	NotAfter     string
	Organization string
	PathLen      int
	Chain        bool
	Force        bool
}

// NewCmdCreate builds "dpsctl cert create".
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IOStreams, Printer: f.Printer, Quiet: f.Quiet, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "create <name> [--type {device|root|intermediate}] [flags]",
		Short: "Create a test certificate and key",
		Long: `Create a certificate and a new private key for testing X.509 attestation.

--type device (the default) makes a device certificate whose subject CN is
<name>, the registration ID, with the clientAuth extended key usage. It is
signed by --ca/--ca-key, or self-signed without them (as an individual
enrollment may use). When signed by a CA, the certificate file also holds
the CA's certificates except a self-signed root, which is the chain a device
must present; --chain=false writes the device certificate alone.

--type root makes a self-signed root CA and --type intermediate a CA signed
by --ca/--ca-key, both with <name> as the common name.

Keys are ECDSA P-256 unless --key-type rsa (--rsa-bits 2048, 3072 or 4096).
The key file is unencrypted PKCS#8 PEM with mode 0600. Existing files are
not overwritten unless --force. Files default to <name>.pem and <name>.key
(spaces in <name> become '-').

These certificates are for tests and the local service, not production.`,
		Example: `  # a test PKI: root, intermediate, device
  dpsctl cert create "Test Root" --type root
  dpsctl cert create "Test Intermediate" --type intermediate --ca Test-Root.pem --ca-key Test-Root.key
  dpsctl cert create dev-1 --ca Test-Intermediate.pem --ca-key Test-Intermediate.key

  # a self-signed device certificate valid for 30 days
  dpsctl cert create dev-2 --not-after 30d`,
		Args:              cmdutil.ExactArgs(1, "create takes one name: the registration ID of a device, the common name of a CA"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := validate(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
	fl := cmd.Flags()
	cmdutil.StringEnumFlag(cmd, &opts.Kind, "type", "", KindDevice, []string{KindDevice, KindRoot, KindIntermediate}, "Kind of certificate")
	fl.StringVar(&opts.CAFile, "ca", "", "Issuing CA certificate file (its chain may follow it)")
	fl.StringVar(&opts.CAKeyFile, "ca-key", "", "Private key file of the issuing CA")
	fl.StringVar(&opts.CertFile, "cert-file", "", "Certificate file to write (default <name>.pem)")
	fl.StringVar(&opts.KeyFile, "key-file", "", "Private key file to write (default <name>.key)")
	cmdutil.StringEnumFlag(cmd, &opts.KeyType, "key-type", "", string(certs.KeyECDSA), []string{string(certs.KeyECDSA), string(certs.KeyRSA)}, "Key algorithm")
	fl.IntVar(&opts.RSABits, "rsa-bits", 2048, "RSA key size: 2048, 3072 or 4096")
	fl.StringVar(&opts.NotAfter, "not-after", "", "End of validity: a date, an RFC 3339 time or a duration such as 90d (default 1 year for devices, 5 years for CAs)")
	fl.StringVar(&opts.Organization, "organization", "", "Organization (O) added to the subject")
	fl.IntVar(&opts.PathLen, "path-len", -1, "CA path length limit (-1 for none)")
	fl.BoolVar(&opts.Chain, "chain", true, "Append the issuing CA's chain to a device certificate file")
	fl.BoolVar(&opts.Force, "force", false, "Overwrite existing files")
	cmdutil.FileFlag(cmd, "ca", shared.CertExts...)
	cmdutil.FileFlag(cmd, "ca-key", shared.KeyExts...)
	return cmd
}

func validate(opts *CreateOptions) error {
	if (opts.CAFile == "") != (opts.CAKeyFile == "") {
		return cmdutil.FlagErrorf("--ca and --ca-key go together")
	}
	switch opts.Kind {
	case KindDevice:
		if err := certs.ValidateRegistrationID(opts.Name); err != nil {
			return cmdutil.FlagErrorf("registration ID %q: %v", opts.Name, err)
		}
		if opts.PathLen != -1 {
			return cmdutil.FlagErrorf("--path-len applies to CA certificates only")
		}
	case KindRoot:
		if opts.CAFile != "" {
			return cmdutil.FlagErrorf("a root is self-signed; --ca and --ca-key are for --type intermediate or device")
		}
	case KindIntermediate:
		if opts.CAFile == "" {
			return cmdutil.FlagErrorf("--type intermediate needs --ca and --ca-key")
		}
	}
	if opts.Kind != KindDevice && (opts.Name == "" || len(opts.Name) > 64) {
		return cmdutil.FlagErrorf("the common name must be 1 to 64 characters")
	}
	if opts.KeyType != string(certs.KeyRSA) && opts.RSABits != 2048 {
		return cmdutil.FlagErrorf("--rsa-bits needs --key-type rsa")
	}
	if opts.PathLen < -1 {
		return cmdutil.FlagErrorf("--path-len must be -1 or more")
	}
	return nil
}

func fileBase(name string) string {
	return strings.Join(strings.Fields(name), "-")
}

func createRun(opts *CreateOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	co := certs.Options{
		CommonName:   opts.Name,
		Organization: opts.Organization,
		KeyType:      certs.KeyType(opts.KeyType),
		RSABits:      opts.RSABits,
		MaxPathLen:   opts.PathLen,
	}
	if opts.PathLen == 0 {
		co.MaxPathLenZero = true
	}
	if opts.NotAfter != "" {
		t, err := shared.ParseTime(opts.NotAfter, opts.Now())
		if err != nil {
			return cmdutil.FlagErrorf("--not-after: %v", err)
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
		if ps := certs.CheckSigningCertificate(ca.Cert, time.Time{}); len(ps) > 0 {
			return fmt.Errorf("--ca %s cannot issue certificates: %w", opts.CAFile, certs.Error(ps))
		}
		if !co.NotAfter.IsZero() && co.NotAfter.After(ca.Cert.NotAfter) {
			return cmdutil.FlagErrorf("--not-after %s is later than the CA's own expiry %s", co.NotAfter.UTC().Format(time.RFC3339), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}

	if ca != nil && co.NotAfter.IsZero() {
		// The default lifetime must not outlive the CA.
		def := certs.DefaultDeviceValidity
		if opts.Kind == KindIntermediate {
			def = certs.DefaultCAValidity
		}
		if opts.Now().Add(def).After(ca.Cert.NotAfter) {
			co.NotAfter = ca.Cert.NotAfter
		}
	}

	var pair *certs.Pair
	switch opts.Kind {
	case KindRoot:
		pair, err = certs.NewRoot(co)
	case KindIntermediate:
		pair, err = certs.NewIntermediate(ca, co)
	default:
		pair, err = certs.NewDevice(ca, opts.Name, co)
	}
	if err != nil {
		return err
	}
	var chain []*x509.Certificate
	if ca != nil && opts.Chain && opts.Kind == KindDevice {
		for _, c := range append([]*x509.Certificate{ca.Cert}, caChain...) {
			if certs.Inspect(c).SelfSigned {
				continue
			}
			chain = append(chain, c)
		}
	}
	certFile, keyFile := opts.CertFile, opts.KeyFile
	if certFile == "" {
		certFile = fileBase(opts.Name) + ".pem"
	}
	if keyFile == "" {
		keyFile = fileBase(opts.Name) + ".key"
	}
	if certFile == keyFile {
		return cmdutil.FlagErrorf("the certificate and the key would both go to %s", certFile)
	}
	if err := certs.WritePair(pair, chain, certFile, keyFile, opts.Force); err != nil {
		return err
	}
	if opts.Quiet == nil || !opts.Quiet() {
		fmt.Fprintf(opts.IO.ErrOut, "Created %s certificate %s in %s, key in %s\n", opts.Kind, certs.Info(pair.Cert).SubjectName, certFile, keyFile)
	}
	return output.Print(p, shared.NewCreated(opts.Kind, pair.Cert, certFile, keyFile), shared.CreatedColumns)
}
