package enroll

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// maxCompletions bounds how many IDs completion fetches.
const maxCompletions = 1000

// Kind describes one kind of entity, T through its pointer P, to the
// shared code: the service calls that read and write it, and the columns
// it prints with. What the model says of the kind (model.EnrollmentKind)
// it does not repeat.
type Kind[T any, P model.EnrollablePointer[T]] struct {
	// The service calls, as method expressions of *dps.Client.
	Get            func(c *dps.Client, ctx context.Context, id string) (*T, error)
	GetAttestation func(c *dps.Client, ctx context.Context, id string) (*model.AttestationMechanism, error)
	Put            func(c *dps.Client, ctx context.Context, e *T, ifMatch string) (*T, error)
	List           func(c *dps.Client, ctx context.Context, opts dps.QueryOptions) iter.Seq2[T, error]

	// Detail are the table columns create and update print.
	Detail []output.Column[T]

	// SameCertificate reports whether a certificate exported by its details
	// only stands for the one the service holds; nil takes any to.
	SameCertificate func(exported, held *model.X509CertificateWithInfo) bool
}

// kind returns the model's kind of T.
func (*Kind[T, P]) kind() model.EnrollmentKind {
	var p P
	return p.Kind()
}

// Explain gives the usual service answers about entity id a clear
// message, keeping the service error in the chain.
func (k *Kind[T, P]) Explain(err error, id string) error {
	kind := k.kind()
	switch {
	case err == nil:
		return nil
	case dps.IsNotFound(err):
		return cmdutil.Reword(err, "%s %q not found", kind, id)
	case dps.IsConflict(err):
		return cmdutil.Reword(err, "%s %q already exists (use \"dpsctl %s update\")", kind, id, command(kind))
	case dps.IsPreconditionFailed(err):
		return cmdutil.Reword(err, "%s %q was changed since it was read (its etag no longer matches); read it again, or use --force to overwrite", kind, id)
	}
	return err
}

// Read fetches entity id; withAttestation fetches its attestation mechanism
// as well, which the service returns with its keys.
func (k *Kind[T, P]) Read(ctx context.Context, c *dps.Client, id string, withAttestation bool) (*T, error) {
	e, err := k.Get(c, ctx, id)
	if err != nil {
		return nil, k.Explain(err, id)
	}
	if withAttestation {
		a, err := k.ReadAttestation(ctx, c, id)
		if err != nil {
			return nil, err
		}
		P(e).Common().Attestation = a
	}
	return e, nil
}

// ReadAttestation fetches the attestation mechanism of entity id.
func (k *Kind[T, P]) ReadAttestation(ctx context.Context, c *dps.Client, id string) (*model.AttestationMechanism, error) {
	a, err := k.GetAttestation(c, ctx, id)
	if err != nil {
		return nil, k.Explain(err, id)
	}
	return a, nil
}

// ListIDs lists up to a thousand IDs, for completion.
func (k *Kind[T, P]) ListIDs(ctx context.Context, c *dps.Client) ([]string, error) {
	return cmdutil.CollectIDs(k.List(c, ctx, dps.QueryOptions{}), func(e T) string { return P(&e).ID() }, maxCompletions)
}

// ParseFile decodes the entity of a --from-file document: one JSON object
// in the form "-o json" prints.
func (k *Kind[T, P]) ParseFile(name string, data []byte) (*T, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("--%s %s: empty", FlagFromFile, name)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("--%s %s: want one %s as a JSON object", FlagFromFile, name, k.kind())
	}
	e := new(T)
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(e); err != nil {
		return nil, fmt.Errorf("--%s %s: %v", FlagFromFile, name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("--%s %s: trailing data after the %s", FlagFromFile, name, k.kind())
	}
	return e, nil
}

// RequireCertificates fails when an entity to be created carries a
// certificate slot with details but no certificate, as in a "-o json"
// export: the service never returns certificates.
func (k *Kind[T, P]) RequireCertificates(e *T) error {
	a := P(e).Common().Attestation
	if a == nil || a.X509 == nil {
		return nil
	}
	slots := *k.kind().Certificates(a.X509)
	if slots == nil {
		return nil
	}
	for _, slot := range []struct {
		flag string
		c    *model.X509CertificateWithInfo
	}{{FlagCertificate, slots.Primary}, {FlagSecondaryCertificate, slots.Secondary}} {
		if slot.c != nil && slot.c.Certificate == "" {
			return cmdutil.FlagErrorf("the %s has no certificate for --%s (the service returns only certificate details); give --%s", command(k.kind()), slot.flag, slot.flag)
		}
	}
	return nil
}

// Start returns the entity a create begins with: an empty one, or the one
// of the --from-file document name ("-" reads ios), without what the
// service owns.
func (k *Kind[T, P]) Start(ios *iostreams.IOStreams, name string) (*T, error) {
	e := new(T)
	if name != "" {
		data, err := cmdutil.ReadFile(ios, name)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", FlagFromFile, err)
		}
		if e, err = k.ParseFile(name, data); err != nil {
			return nil, err
		}
	}
	ClearServerFields(P(e))
	return e, nil
}

// Create writes e, which the service must not hold yet, and prints what it
// made of it with p.
func (k *Kind[T, P]) Create(ctx context.Context, s cmdutil.Service, p *output.Printer, e *T) error {
	c, err := s.Client(ctx)
	if err != nil {
		return err
	}
	created, err := k.Put(c, ctx, e, "")
	if err != nil {
		return k.Explain(err, P(e).ID())
	}
	return output.Print(p, *created, k.Detail)
}

// UpdateFlags defines --etag and --force of an update verb.
func (k *Kind[T, P]) UpdateFlags(cmd *cobra.Command, etag *string, force *bool) {
	name := command(k.kind())
	cmd.Flags().StringVar(etag, "etag", "", "Write only if the "+name+" still has this etag")
	cmd.Flags().BoolVar(force, "force", false, "Overwrite even if the "+name+" changed since it was read")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
}

// CheckUpdate runs the checks of an update command line: --etag and
// --force exclude each other, validate checks the flag values, and a field
// flag or --from-file must be among those changed.
func CheckUpdate(etag string, force bool, validate func() error, changed map[string]bool) error {
	if err := cmdutil.MutuallyExclusive("--etag and --force cannot be combined", etag != "", force); err != nil {
		return err
	}
	if err := validate(); err != nil {
		return err
	}
	if len(changed) == 0 {
		return cmdutil.FlagErrorf("nothing to update: give at least one field flag or --from-file")
	}
	return nil
}

// UpdateInput is what an update verb passes to Kind.Update.
type UpdateInput[T any] struct {
	cmdutil.Service

	ID       string
	FromFile string // --from-file, "" for none
	ETag     string // --etag: If-Match instead of the etag read
	Force    bool   // --force: If-Match: *

	// Apply changes the entity read as the flags say.
	Apply func(e *T) error
	// Explain rewords an error of the write; nil uses Kind.Explain.
	Explain func(err error, id string) error
}

// Update reads the entity with its attestation mechanism (so keys are
// kept), lays a --from-file document over it, applies the flags and writes
// it back only if it is still at the etag read (or at --etag, or whatever
// it is with --force), then prints it.
func (k *Kind[T, P]) Update(ctx context.Context, in UpdateInput[T]) error {
	p, err := in.Printer()
	if err != nil {
		return err
	}
	var file []byte
	if in.FromFile != "" {
		if file, err = cmdutil.ReadFile(in.IO, in.FromFile); err != nil {
			return fmt.Errorf("--%s: %w", FlagFromFile, err)
		}
	}
	c, err := in.Client(ctx)
	if err != nil {
		return err
	}
	e, err := k.Read(ctx, c, in.ID, true)
	if err != nil {
		return err
	}
	ifMatch := P(e).Common().ETag
	switch {
	case in.Force:
		ifMatch = "*"
	case in.ETag != "":
		ifMatch = in.ETag
	}

	if file != nil {
		if e, err = k.overlay(e, in.FromFile, file); err != nil {
			return err
		}
	}
	ClearServerFields(P(e))
	if err := in.Apply(e); err != nil {
		return err
	}
	updated, err := k.Put(c, ctx, e, ifMatch)
	if err != nil {
		explain := in.Explain
		if explain == nil {
			explain = k.Explain
		}
		return explain(err, in.ID)
	}
	return output.Print(p, *updated, k.Detail)
}

// serverOwned are members of a --from-file document that update does not
// apply. (Those of the other kind are not fields of the entity and are
// dropped when the merged document is decoded.)
var serverOwned = map[string]bool{
	"registrationId": true, "enrollmentGroupId": true, "etag": true, "createdDateTimeUtc": true,
	"lastUpdatedDateTimeUtc": true, "registrationState": true,
}

// overlay replaces the top-level members of current with those of a
// --from-file document. Masked keys and certificate details without the
// certificate keep what the service has.
func (k *Kind[T, P]) overlay(current *T, name string, data []byte) (*T, error) {
	incoming, err := k.ParseFile(name, data)
	if err != nil {
		return nil, err
	}
	in, cur := P(incoming), P(current)
	if in.ID() != "" && !strings.EqualFold(in.ID(), cur.ID()) {
		return nil, cmdutil.FlagErrorf("--%s %s is %s %q, not %q", FlagFromFile, name, k.kind(), in.ID(), cur.ID())
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(data), &members); err != nil {
		return nil, fmt.Errorf("--%s %s: %v", FlagFromFile, name, err)
	}
	base, err := json.Marshal(current)
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(base, &merged); err != nil {
		return nil, err
	}
	for m, v := range members {
		if serverOwned[m] {
			continue
		}
		if m == "attestation" {
			if v, err = k.keepSecrets(cur.Common().Attestation, in.Common().Attestation); err != nil {
				return nil, err
			}
		}
		merged[m] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	e := new(T)
	if err := json.Unmarshal(out, e); err != nil {
		return nil, err
	}
	return e, nil
}

// keepSecrets fills masked keys and missing certificates of an exported
// attestation from the current one, so a "-o json" round trip changes
// nothing it did not mean to.
func (k *Kind[T, P]) keepSecrets(current, incoming *model.AttestationMechanism) (json.RawMessage, error) {
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
			if exported, held := k.kind().Certificates(&x), *k.kind().Certificates(current.X509); *exported != nil && held != nil {
				slots := **exported
				slots.Primary = k.keepCertificate(slots.Primary, held.Primary)
				slots.Secondary = k.keepCertificate(slots.Secondary, held.Secondary)
				*exported = &slots
			}
			in.X509 = &x
		}
	}
	return json.Marshal(&in)
}

// keepCertificate returns the certificate the service holds in place of
// one exported by its details only that stands for it.
func (k *Kind[T, P]) keepCertificate(exported, held *model.X509CertificateWithInfo) *model.X509CertificateWithInfo {
	if exported != nil && exported.Certificate == "" && (k.SameCertificate == nil || k.SameCertificate(exported, held)) {
		return held
	}
	return exported
}
