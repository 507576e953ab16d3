// Package computekey is "dpsctl group compute-key".
package computekey

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/spf13/cobra"
)

// ComputeKeyOptions are the inputs of "group compute-key".
type ComputeKeyOptions struct {
	cmdutil.Service

	// RegistrationIDs are the IDs given as arguments; "-" stands for the
	// lines of stdin, and no arguments at all reads stdin.
	RegistrationIDs []string
	Key             string // group key; no service call
	GroupID         string // read the key of this group
	Secondary       bool   // use the group's secondary key
}

// DeviceKey is one derived key, the JSON form of the output.
type DeviceKey struct {
	RegistrationID string `json:"registrationId"`
	DeviceKey      string `json:"deviceKey"`
}

// Columns are the table columns of derived keys. The keys are the result
// of the command, so they are not masked.
var Columns = []output.Column[DeviceKey]{
	{Header: "REGISTRATION ID", Value: func(k DeviceKey) string { return k.RegistrationID }},
	{Header: "DEVICE KEY", Value: func(k DeviceKey) string { return k.DeviceKey }, Full: true},
}

// maxLine bounds one line of stdin; IDs are at most 128 characters.
const maxLine = 64 << 10

// NewCmdComputeKey builds "dpsctl group compute-key".
func NewCmdComputeKey(f *cmdutil.Factory, runF func(*ComputeKeyOptions) error) *cobra.Command {
	opts := &ComputeKeyOptions{Service: f.Service()}
	cmd := &cobra.Command{
		Use:   "compute-key {--key <group-key> | --group <group-id>} [<registration-id>... | -]",
		Short: "Derive the device keys of a symmetric-key enrollment group",
		Long: `Derive the keys devices of a symmetric-key enrollment group register with:
base64(HMAC-SHA256(group key, registration ID)). The derivation happens here;
with --key no service is called at all, with --group the group's primary key
(--secondary: its secondary key) is read from the service first.

Registration IDs are the arguments, or one per line on stdin when there are
none or one of them is "-". Blank lines are skipped; any other line must be a
valid registration ID. Input is streamed, so millions of IDs are fine with
-o json, -o tsv or when stdout is not a terminal.

The derived keys are the result, so they are printed in full (no
--show-keys needed). Output: a REGISTRATION ID / DEVICE KEY table, "-o json"
an array of {"registrationId","deviceKey"}, tab-separated "ID<TAB>KEY"
lines otherwise. A key given with --key is visible in the process list and
shell history; --group avoids that.`,
		Example: `  dpsctl group compute-key --group edge-fleet dev-001 dev-002
  dpsctl group compute-key --key "$GROUP_KEY" sn-007-888-abc-mac-a1-b2-c3-d4-e5-f6
  seq -f "dev-%05g" 1 100000 | dpsctl group compute-key --group edge-fleet -o tsv > device-keys.tsv
  dpsctl group compute-key --group edge-fleet --secondary - < ids.txt -o json`,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RegistrationIDs = args
			if err := validate(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return computeKeyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "Group key (base64) to derive from, without calling the service")
	cmd.Flags().StringVar(&opts.GroupID, "group", "", "Read the key of this symmetric-key enrollment group")
	cmd.Flags().BoolVar(&opts.Secondary, "secondary", false, "With --group, derive from the group's secondary key")
	_ = cmd.RegisterFlagCompletionFunc("key", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("group", shared.CompleteIDs(f, true))
	return cmd
}

func validate(opts *ComputeKeyOptions) error {
	switch {
	case opts.Key != "" && opts.GroupID != "":
		return cmdutil.FlagErrorf("give either --key or --group, not both")
	case opts.Key == "" && opts.GroupID == "":
		return cmdutil.FlagErrorf("give the group key with --key, or the group to read it from with --group")
	case opts.Secondary && opts.GroupID == "":
		return cmdutil.FlagErrorf("--secondary needs --group")
	}
	if opts.Key != "" {
		if err := model.ValidateSymmetricKey(opts.Key); err != nil {
			return cmdutil.FlagErrorf("--key: %v", err)
		}
	}
	if opts.GroupID != "" {
		if err := model.ValidateID(opts.GroupID); err != nil {
			return cmdutil.FlagErrorf("--group %q: %v", opts.GroupID, err)
		}
	}
	stdin := 0
	for _, id := range opts.RegistrationIDs {
		if id == "-" {
			stdin++
			continue
		}
		if err := model.ValidateID(id); err != nil {
			return cmdutil.FlagErrorf("registration ID %q: %v", id, err)
		}
	}
	if stdin > 1 {
		return cmdutil.FlagErrorf("\"-\" (stdin) may be given only once")
	}
	if (stdin == 1 || len(opts.RegistrationIDs) == 0) && opts.IO.IsStdinTTY() {
		return cmdutil.FlagErrorf("give registration IDs as arguments, or one per line on stdin")
	}
	return nil
}

func computeKeyRun(ctx context.Context, opts *ComputeKeyOptions) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	key := opts.Key
	if opts.GroupID != "" {
		if key, err = groupKey(ctx, opts); err != nil {
			return err
		}
	}
	return output.PrintSeq(p, derive(key, registrationIDs(opts.RegistrationIDs, opts.IO.In)), Columns, "registration IDs")
}

// groupKey reads the chosen key of a symmetric-key group.
func groupKey(ctx context.Context, opts *ComputeKeyOptions) (string, error) {
	c, err := opts.Client(ctx)
	if err != nil {
		return "", err
	}
	a, err := c.GetGroupAttestation(ctx, opts.GroupID)
	if err != nil {
		return "", shared.Kind.Explain(err, opts.GroupID)
	}
	if a.Type != model.AttestationSymmetricKey {
		return "", fmt.Errorf("enrollment group %q uses %s attestation; device keys exist only for symmetric-key groups", opts.GroupID, a.Type)
	}
	which, key := "primary", ""
	if a.SymmetricKey != nil {
		key = a.SymmetricKey.PrimaryKey
		if opts.Secondary {
			which, key = "secondary", a.SymmetricKey.SecondaryKey
		}
	}
	if key == "" {
		return "", fmt.Errorf("the service returned no %s key for enrollment group %q", which, opts.GroupID)
	}
	return key, nil
}

// derive maps registration IDs to their device keys.
func derive(key string, ids iter.Seq2[string, error]) iter.Seq2[DeviceKey, error] {
	return func(yield func(DeviceKey, error) bool) {
		for id, err := range ids {
			if err != nil {
				yield(DeviceKey{}, err)
				return
			}
			k, err := sas.DeriveDeviceKey(key, id)
			if err != nil {
				yield(DeviceKey{}, err)
				return
			}
			if !yield(DeviceKey{RegistrationID: id, DeviceKey: k}, nil) {
				return
			}
		}
	}
}

// registrationIDs streams the IDs of the arguments, replacing "-" (or no
// arguments) with the lines of stdin.
func registrationIDs(args []string, stdin io.Reader) iter.Seq2[string, error] {
	if len(args) == 0 {
		args = []string{"-"}
	}
	return func(yield func(string, error) bool) {
		for _, a := range args {
			if a != "-" {
				if !yield(a, nil) {
					return
				}
				continue
			}
			for id, err := range ReadIDs(stdin) {
				if !yield(id, err) || err != nil {
					return
				}
			}
		}
	}
}

// ReadIDs streams the registration IDs of r, one per line. Surrounding
// white space and blank lines are ignored; a line that is not a valid ID
// ends the stream with an error naming its line number.
func ReadIDs(r io.Reader) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), maxLine)
		line := 0
		for sc.Scan() {
			line++
			id := strings.TrimSpace(sc.Text())
			if id == "" {
				continue
			}
			if err := model.ValidateID(id); err != nil {
				yield("", fmt.Errorf("stdin line %d: registration ID %q: %w", line, shorten(id), err))
				return
			}
			if !yield(id, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("longer than %d bytes", maxLine)
			}
			yield("", fmt.Errorf("stdin line %d: %w", line+1, err))
		}
	}
}

// shorten keeps a bad input line readable in an error message.
func shorten(s string) string {
	const limit = 140
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
