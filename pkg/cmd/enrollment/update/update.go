// Package update is "dpsctl enrollment update".
package update

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/enrollment/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// UpdateOptions are the inputs of "enrollment update".
type UpdateOptions struct {
	IO      *iostreams.IOStreams
	Client  func(context.Context) (*dps.Client, error)
	Printer func() (*output.Printer, error)
	Ctx     context.Context

	RegistrationID string
	Flags          shared.Flags
	ETag           string // If-Match instead of the etag read
	Force          bool   // If-Match: *
}

// NewCmdUpdate builds "dpsctl enrollment update".
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Client: f.Client, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "update <registration-id> [flags]",
		Short: "Change fields of an individual enrollment",
		Long: `Change the fields of an individual enrollment that flags name, and keep
everything else: IoT hubs, initial twin, keys, certificates.

dpsctl reads the enrollment (and its attestation mechanism, so symmetric keys
are kept), applies the flags and writes it back only if nobody changed it in
between: the write carries the etag it read. --etag writes only if the
enrollment is at that version; --force overwrites whatever is there.

--from-file takes an enrollment as "-o json" prints it; its top-level fields
replace the current ones, and flags given as well override both.`,
		Example: `  dpsctl enrollment update dev-1 --provisioning-status disabled
  dpsctl enrollment update dev-1 --add-iot-hub hub2.azure-devices.net --remove-iot-hub hub1.azure-devices.net
  dpsctl enrollment update dev-1 --initial-twin-tags '{"site":"lab"}' --edge
  dpsctl enrollment update dev-1 --primary-key "$(head -c 32 /dev/urandom | base64)"`,
		Args:              cmdutil.ExactArgs(1, "give one registration ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flags.Capture(cmd)
			opts.RegistrationID = args[0]
			opts.Ctx = cmd.Context()
			if err := cmdutil.MutuallyExclusive("--etag and --force cannot be combined", opts.ETag != "", opts.Force); err != nil {
				return err
			}
			if err := opts.Flags.Validate(); err != nil {
				return err
			}
			if !changesSomething(opts.Flags) {
				return cmdutil.FlagErrorf("nothing to update: give at least one field flag or --from-file")
			}
			if runF != nil {
				return runF(opts)
			}
			return updateRun(opts)
		},
	}
	opts.Flags.Register(cmd, true)
	cmd.Flags().StringVar(&opts.ETag, "etag", "", "Write only if the enrollment still has this etag")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Overwrite even if the enrollment changed since it was read")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
	return cmd
}

func changesSomething(fl shared.Flags) bool {
	return len(fl.Changed) > 0
}

func updateRun(opts *UpdateOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	var file []byte
	if opts.Flags.FromFile != "" {
		if file, err = cmdutil.ReadFile(opts.IO, opts.Flags.FromFile); err != nil {
			return fmt.Errorf("--from-file: %w", err)
		}
	}
	c, err := opts.Client(opts.Ctx)
	if err != nil {
		return err
	}
	id := opts.RegistrationID
	e, err := c.GetEnrollment(opts.Ctx, id)
	if err != nil {
		return shared.Explain(err, id)
	}
	a, err := c.GetEnrollmentAttestation(opts.Ctx, id)
	if err != nil {
		return shared.Explain(err, id)
	}
	e.Attestation = a
	ifMatch := e.ETag
	switch {
	case opts.Force:
		ifMatch = "*"
	case opts.ETag != "":
		ifMatch = opts.ETag
	}

	if file != nil {
		if e, err = overlay(e, opts.Flags.FromFile, file); err != nil {
			return err
		}
	}
	shared.ClearServerFields(e)
	if err := opts.Flags.Apply(e, true); err != nil {
		return err
	}
	updated, err := c.PutEnrollment(opts.Ctx, e, ifMatch)
	if err != nil {
		return shared.Explain(err, id)
	}
	return output.Print(p, *updated, shared.DetailColumns)
}

// serverOwned are members of a --from-file document that are not applied.
var serverOwned = map[string]bool{
	"registrationId": true, "etag": true, "createdDateTimeUtc": true,
	"lastUpdatedDateTimeUtc": true, "registrationState": true,
}

// overlay replaces the top-level members of current with those of a
// --from-file document. Masked keys and certificate details without the
// certificate keep what the service has.
func overlay(current *model.IndividualEnrollment, name string, data []byte) (*model.IndividualEnrollment, error) {
	incoming, err := shared.ParseFile(name, data)
	if err != nil {
		return nil, err
	}
	if incoming.RegistrationID != "" && !strings.EqualFold(incoming.RegistrationID, current.RegistrationID) {
		return nil, cmdutil.FlagErrorf("--from-file %s is enrollment %q, not %q", name, incoming.RegistrationID, current.RegistrationID)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(data), &members); err != nil {
		return nil, fmt.Errorf("--from-file %s: %v", name, err)
	}
	base, err := json.Marshal(current)
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, err
	}
	for k, v := range members {
		if serverOwned[k] {
			continue
		}
		if k == "attestation" {
			v, err = keepSecrets(current.Attestation, incoming.Attestation)
			if err != nil {
				return nil, err
			}
		}
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	var e model.IndividualEnrollment
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// keepSecrets fills masked keys and missing certificates of an exported
// attestation from the current one, so a "-o json" round trip changes
// nothing it did not mean to.
func keepSecrets(current, incoming *model.AttestationMechanism) (json.RawMessage, error) {
	if incoming == nil {
		return json.Marshal(current)
	}
	in := *incoming
	if current != nil && in.Type == current.Type {
		if in.SymmetricKey != nil && current.SymmetricKey != nil {
			sk := *in.SymmetricKey
			if sk.PrimaryKey == output.Masked || sk.PrimaryKey == "" {
				sk.PrimaryKey = current.SymmetricKey.PrimaryKey
			}
			if sk.SecondaryKey == output.Masked || sk.SecondaryKey == "" {
				sk.SecondaryKey = current.SymmetricKey.SecondaryKey
			}
			in.SymmetricKey = &sk
		}
		if in.X509 != nil && current.X509 != nil {
			x := *in.X509
			if x.ClientCertificates != nil && current.X509.ClientCertificates != nil {
				cc := *x.ClientCertificates
				if cc.Primary != nil && cc.Primary.Certificate == "" {
					cc.Primary = current.X509.ClientCertificates.Primary
				}
				if cc.Secondary != nil && cc.Secondary.Certificate == "" {
					cc.Secondary = current.X509.ClientCertificates.Secondary
				}
				x.ClientCertificates = &cc
			}
			in.X509 = &x
		}
	}
	return json.Marshal(&in)
}
