// Package update is "dpsctl group update".
package update

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// UpdateOptions are the inputs of "group update".
type UpdateOptions struct {
	IO      *iostreams.IOStreams
	Client  func(context.Context) (*dps.Client, error)
	Printer func() (*output.Printer, error)
	Ctx     context.Context

	GroupID string
	Flags   shared.Flags
	ETag    string // If-Match instead of the etag read
	Force   bool   // If-Match: *
}

// NewCmdUpdate builds "dpsctl group update".
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{IO: f.IOStreams, Client: f.Client, Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "update <group-id> [flags]",
		Short: "Change fields of an enrollment group",
		Long: `Change the fields of an enrollment group that flags name, and keep
everything else: IoT hubs, initial twin, keys, signing certificates.

dpsctl reads the group (and its attestation mechanism, so group keys are
kept), applies the flags and writes it back only if nobody changed it in
between: the write carries the etag it read. --etag writes only if the group
is at that version; --force overwrites whatever is there.

The attestation type cannot change, but an X.509 group may move between
signing certificates (--certificate) and CA references (--ca-reference).
New signing certificates are checked as "group create" does.

--from-file takes a group as "-o json" prints it; its top-level fields
replace the current ones, and flags given as well override both.`,
		Example: `  dpsctl group update factory-a --provisioning-status disabled
  dpsctl group update factory-a --add-iot-hub hub2.azure-devices.net --remove-iot-hub hub1.azure-devices.net
  dpsctl group update factory-a --secondary-certificate new-intermediate.pem
  dpsctl group update edge-fleet --initial-twin-tags '{"site":"lab"}' --reprovision-policy never`,
		Args:              cmdutil.ExactArgs(1, "give one group ID"),
		ValidArgsFunction: shared.CompleteIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flags.Capture(cmd)
			opts.GroupID = args[0]
			opts.Ctx = cmd.Context()
			if err := cmdutil.MutuallyExclusive("--etag and --force cannot be combined", opts.ETag != "", opts.Force); err != nil {
				return err
			}
			if err := opts.Flags.Validate(); err != nil {
				return err
			}
			if len(opts.Flags.Changed) == 0 {
				return cmdutil.FlagErrorf("nothing to update: give at least one field flag or --from-file")
			}
			if runF != nil {
				return runF(opts)
			}
			return updateRun(opts)
		},
	}
	opts.Flags.Register(cmd, true)
	cmd.Flags().StringVar(&opts.ETag, "etag", "", "Write only if the group still has this etag")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Overwrite even if the group changed since it was read")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
	return cmd
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
	id := opts.GroupID
	g, err := c.GetGroup(opts.Ctx, id)
	if err != nil {
		return shared.Explain(err, id)
	}
	a, err := c.GetGroupAttestation(opts.Ctx, id)
	if err != nil {
		return shared.Explain(err, id)
	}
	g.Attestation = a
	ifMatch := g.ETag
	switch {
	case opts.Force:
		ifMatch = "*"
	case opts.ETag != "":
		ifMatch = opts.ETag
	}

	if file != nil {
		if g, err = overlay(g, opts.Flags.FromFile, file); err != nil {
			return err
		}
	}
	shared.ClearServerFields(g)
	if err := opts.Flags.Apply(g, true); err != nil {
		return err
	}
	if err := opts.Flags.CheckCertificates(g); err != nil {
		return err
	}
	updated, err := c.PutGroup(opts.Ctx, g, ifMatch)
	if err != nil {
		if opts.ETag != "" && dps.IsPreconditionFailed(err) {
			return cmdutil.Reword(err, "enrollment group %q is no longer at --etag %s (it changed since that etag was read); read it again, or use --force to overwrite", id, opts.ETag)
		}
		return shared.Explain(err, id)
	}
	return output.Print(p, *updated, shared.DetailColumns)
}

// serverOwned are members of a --from-file document that are not applied.
var serverOwned = map[string]bool{
	"enrollmentGroupId": true, "etag": true, "createdDateTimeUtc": true, "lastUpdatedDateTimeUtc": true,
}

// overlay replaces the top-level members of current with those of a
// --from-file document. Masked keys and certificate details without the
// certificate keep what the service has.
func overlay(current *model.EnrollmentGroup, name string, data []byte) (*model.EnrollmentGroup, error) {
	incoming, err := shared.ParseFile(name, data)
	if err != nil {
		return nil, err
	}
	if incoming.EnrollmentGroupID != "" && !strings.EqualFold(incoming.EnrollmentGroupID, current.EnrollmentGroupID) {
		return nil, cmdutil.FlagErrorf("--from-file %s is enrollment group %q, not %q", name, incoming.EnrollmentGroupID, current.EnrollmentGroupID)
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
			if v, err = keepSecrets(current.Attestation, incoming.Attestation); err != nil {
				return nil, err
			}
		}
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	var g model.EnrollmentGroup
	if err := json.Unmarshal(out, &g); err != nil {
		return nil, err
	}
	return &g, nil
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
		if in.X509 != nil && current.X509 != nil && in.X509.SigningCertificates != nil && current.X509.SigningCertificates != nil {
			x := *in.X509
			sc := *x.SigningCertificates
			if sc.Primary != nil && sc.Primary.Certificate == "" && sameCert(sc.Primary, current.X509.SigningCertificates.Primary) {
				sc.Primary = current.X509.SigningCertificates.Primary
			}
			if sc.Secondary != nil && sc.Secondary.Certificate == "" && sameCert(sc.Secondary, current.X509.SigningCertificates.Secondary) {
				sc.Secondary = current.X509.SigningCertificates.Secondary
			}
			x.SigningCertificates = &sc
			in.X509 = &x
		}
	}
	return json.Marshal(&in)
}

// sameCert reports whether an exported certificate slot (details only)
// names the certificate the service holds; one without details is taken to.
func sameCert(exported, current *model.X509CertificateWithInfo) bool {
	if current == nil {
		return false
	}
	if exported.Info == nil || current.Info == nil {
		return true
	}
	return strings.EqualFold(exported.Info.SHA256Thumbprint, current.Info.SHA256Thumbprint)
}
