// Package add is "dpsctl ca add".
package add

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/cmd/ca/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// AddOptions are the inputs of "ca add".
type AddOptions struct {
	IO      *iostreams.IOStreams
	CAs     func(context.Context) (cacert.Service, error)
	Printer func() (*output.Printer, error)
	Quiet   bool

	File   string // the CA certificate, PEM or DER
	Name   string // --name, or the file's base name
	Verify bool   // --verify (implied by --ca-key)
	CAKey  string // --ca-key
	Force  bool   // --force: replace a certificate of that name
}

// NewCmdAdd builds "dpsctl ca add".
func NewCmdAdd(f *cmdutil.Factory, runF func(*AddOptions) error) *cobra.Command {
	opts := &AddOptions{IO: f.IOStreams, CAs: f.CAs, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "add <certificate-file> [flags]",
		Short: "Upload a CA certificate, and prove possession of its key",
		Long: `Upload a root or intermediate CA certificate (PEM or DER) to the provisioning
service, under --name or the file's name without its extension.

An uploaded certificate is unverified: enrollment groups whose --ca-reference
names it authenticate no device until possession of its private key is
proven. With --ca-key (or --verify --ca-key) the whole proof happens here, in
one step: dpsctl asks the service for a verification code, makes a
certificate whose CN is that code signed by the CA's key, and has the
service verify it. The key never leaves this machine.`,
		Example: `  dpsctl cert create root --cert-file root.pem --key-file root.key
  dpsctl ca add root.pem --name lab-root --verify --ca-key root.key
  dpsctl group create sensors --ca-reference lab-root

  # upload now, prove later
  dpsctl ca add intermediate.pem
  dpsctl ca verify intermediate --ca-key intermediate.key`,
		Args: cmdutil.ExactArgs(1, "give the file of one CA certificate"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.Quiet = f.Quiet()
			if opts.Verify && opts.CAKey == "" {
				return cmdutil.FlagErrorf("--verify needs --ca-key, the CA's private key")
			}
			opts.Verify = opts.Verify || opts.CAKey != ""
			if opts.Name == "" {
				opts.Name = strings.TrimSuffix(filepath.Base(opts.File), filepath.Ext(opts.File))
				if err := cacert.ValidateName(opts.Name); err != nil {
					return cmdutil.FlagErrorf("the file name %q is no certificate name (%v); give --name", filepath.Base(opts.File), err)
				}
			} else if err := cacert.ValidateName(opts.Name); err != nil {
				return cmdutil.FlagErrorf("--name: %v", err)
			}
			if runF != nil {
				return runF(opts)
			}
			return addRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "Name of the certificate in the service (default the file name without its extension)")
	fl.BoolVar(&opts.Verify, "verify", false, "Prove possession of the CA's key right away (needs --ca-key)")
	fl.StringVar(&opts.CAKey, "ca-key", "", "Private key of the CA (PEM), to prove possession; implies --verify")
	fl.BoolVar(&opts.Force, "force", false, "Replace a certificate of the same name (it is unverified again)")
	_ = cmd.MarkFlagFilename("ca-key", "pem", "key")
	_ = cmd.RegisterFlagCompletionFunc("name", cobra.NoFileCompletions)
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"pem", "cer", "crt", "der"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	data, err := cmdutil.ReadFile(opts.IO, opts.File)
	if err != nil {
		return err
	}
	parsed, err := certs.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.File, err)
	}
	if len(parsed) != 1 {
		return fmt.Errorf("%s: want one CA certificate, found %d", opts.File, len(parsed))
	}
	var key crypto.Signer
	if opts.Verify {
		// Check the key before anything is uploaded.
		if key, err = certs.ReadPrivateKey(opts.CAKey); err != nil {
			return fmt.Errorf("--ca-key: %w", err)
		}
		if err := certs.KeyMatches(parsed[0], key); err != nil {
			return fmt.Errorf("--ca-key %s is not the key of %s: %w", opts.CAKey, opts.File, err)
		}
	}
	svc, err := opts.CAs(ctx)
	if err != nil {
		return err
	}
	ifMatch := ""
	if opts.Force {
		ifMatch = "*"
	}
	c, err := svc.Add(ctx, opts.Name, data, ifMatch)
	if err != nil {
		return shared.Explain(err, opts.Name)
	}
	if opts.Verify {
		if c, err = shared.Prove(ctx, svc, opts.Name, c.ETag, parsed[0], key); err != nil {
			return fmt.Errorf("CA certificate %q was added but not verified: %w", opts.Name, err)
		}
	}
	if !opts.Quiet {
		fmt.Fprintln(opts.IO.ErrOut, note(opts.Name, parsed[0], c.Properties.IsVerified))
	}
	return output.Print(p, *c, shared.DetailColumns)
}

func note(name string, cert *x509.Certificate, verified bool) string {
	if verified {
		return fmt.Sprintf("Added and verified CA certificate %q (%s)", name, certs.Info(cert).SubjectName)
	}
	return fmt.Sprintf("Added CA certificate %q (%s), unverified: prove possession of its key with \"dpsctl ca verify %s --ca-key KEY\"", name, certs.Info(cert).SubjectName, name)
}
