package cmdutil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/spf13/cobra"
)

func TestConfirmDestructive(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		yes     bool
		input   string
		wantErr error
		usage   bool
	}{
		{name: "yes flag", yes: true},
		{name: "no terminal needs --yes", usage: true},
		{name: "answer y", tty: true, input: "y\n"},
		{name: "answer YES", tty: true, input: "YES\n"},
		{name: "answer n", tty: true, input: "n\n", wantErr: ErrCancel},
		{name: "empty answer", tty: true, input: "\n", wantErr: ErrCancel},
		{name: "eof", tty: true, wantErr: ErrCancel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, in, _, errOut := iostreams.Test()
			ios.SetTTY(tt.tty)
			in.WriteString(tt.input)
			err := ConfirmDestructive(ios, tt.yes, "Delete x?")
			var fe *FlagError
			switch {
			case tt.usage:
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), "--yes") {
					t.Fatalf("err = %v, want usage error naming --yes", err)
				}
			case !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.tty && !tt.yes && !strings.Contains(errOut.String(), "Delete x? [y/N]") {
				t.Fatalf("prompt missing: %q", errOut)
			}
		})
	}
}

func TestStringEnumFlag(t *testing.T) {
	var v string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	StringEnumFlagAliases(cmd.Flags(), cmd, &v, "attestation", "", "tpm", []string{"tpm", "x509", "symmetric-key"}, map[string]string{"symmetricKey": "symmetric-key"}, "Attestation")
	for in, want := range map[string]string{"x509": "x509", "symmetricKey": "symmetric-key", "SYMMETRICKEY": "symmetric-key", "TPM": "tpm"} {
		if err := cmd.Flags().Set("attestation", in); err != nil || v != want {
			t.Errorf("Set(%q): v=%q err=%v, want %q", in, v, err, want)
		}
	}
	err := cmd.Flags().Set("attestation", "password")
	if err == nil || !strings.Contains(err.Error(), "tpm, x509, symmetric-key") {
		t.Errorf("bad value: %v", err)
	}
	if u := cmd.Flags().Lookup("attestation").Usage; !strings.Contains(u, "{tpm|x509|symmetric-key}") {
		t.Errorf("usage %q", u)
	}
	comps, dir := cmd.GetFlagCompletionFunc("attestation")
	_ = dir
	if comps == nil {
		t.Fatal("no completion registered")
	}
	got, d := comps(cmd, nil, "")
	if len(got) != 3 || d != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("completions %v %v", got, d)
	}
}

func TestArgs(t *testing.T) {
	cmd := &cobra.Command{Use: "show"}
	var fe *FlagError
	if err := ExactArgs(1, "")(cmd, nil); !errors.As(err, &fe) {
		t.Errorf("ExactArgs: %v", err)
	}
	if err := ExactArgs(1, "")(cmd, []string{"a"}); err != nil {
		t.Errorf("ExactArgs ok: %v", err)
	}
	if err := MinimumArgs(1, "give an ID")(cmd, nil); !errors.As(err, &fe) || err.Error() != "give an ID" {
		t.Errorf("MinimumArgs: %v", err)
	}
	if err := MaximumArgs(1, "")(cmd, []string{"a", "b"}); !errors.As(err, &fe) {
		t.Errorf("MaximumArgs: %v", err)
	}
	if err := MutuallyExclusive("only one", true, false, true); !errors.As(err, &fe) {
		t.Errorf("MutuallyExclusive: %v", err)
	}
	if err := MutuallyExclusive("only one", true, false); err != nil {
		t.Errorf("MutuallyExclusive ok: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	ios, in, _, _ := iostreams.Test()
	in.WriteString("from stdin")
	b, err := ReadFile(ios, "-")
	if err != nil || string(b) != "from stdin" {
		t.Fatalf("stdin: %q %v", b, err)
	}
	p := filepath.Join(t.TempDir(), "f.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	if b, err := ReadFile(ios, p); err != nil || string(b) != "{}" {
		t.Fatalf("file: %q %v", b, err)
	}
	if _, err := ReadFile(ios, p+".missing"); err == nil {
		t.Fatal("missing file read")
	}
}

func TestCompleteIDs(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	f := &Factory{IOStreams: ios, Flags: &GlobalFlags{}}
	fail := true
	f.Client = func(ctx context.Context) (*dps.Client, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("completion without deadline")
		}
		if fail {
			return nil, errors.New("no backend")
		}
		return nil, nil
	}
	list := func(context.Context, *dps.Client) ([]string, error) { return []string{"dev-1", "dev-2", "other"}, nil }
	cmd := &cobra.Command{Use: "show"}
	got, d := CompleteIDs(f, false, list)(cmd, nil, "")
	if got != nil || d != cobra.ShellCompDirectiveNoFileComp {
		t.Fatalf("failure: %v %v", got, d)
	}
	fail = false
	got, _ = CompleteIDs(f, true, list)(cmd, []string{"dev-1"}, "DEV")
	if len(got) != 1 || got[0] != "dev-2" {
		t.Fatalf("got %v", got)
	}
	got, _ = CompleteIDs(f, false, list)(cmd, []string{"dev-1"}, "")
	if got != nil {
		t.Fatalf("second argument completed: %v", got)
	}
	if !f.Flags.Quiet || errOut.Len() != 0 {
		t.Fatalf("completion not quiet: %q", errOut)
	}
}

func TestFactoryClose(t *testing.T) {
	f := &Factory{}
	var order []int
	f.OnClose(func() error { order = append(order, 1); return nil })
	f.OnClose(func() error { order = append(order, 2); return errors.New("x") })
	if err := f.Close(); err == nil || len(order) != 2 || order[0] != 2 {
		t.Fatalf("close: %v %v", err, order)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
