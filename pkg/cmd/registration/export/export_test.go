package export

import (
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmd/group/shared/grouptest"
	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdExport(t *testing.T) {
	tests := []struct {
		args    []string
		want    ExportOptions
		wantErr string
	}{
		{args: nil, want: ExportOptions{Format: "csv"}},
		{args: []string{"--group", "g1", "-o", "jsonl", "--raw-csv"}, want: ExportOptions{GroupID: "g1", Format: "jsonl", RawCSV: true}},
		{args: []string{"--group", "a b"}, wantErr: `--group "a b"`},
		{args: []string{"-o", "xml"}, wantErr: "valid values are csv, jsonl"},
		{args: []string{"g1"}, wantErr: "use --group"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := cmdtest.Parse(t, NewCmdExport, tt.args...)
			if tt.wantErr != "" {
				cmdtest.WantUsageError(t, err, tt.wantErr)
				return
			}
			if err != nil || got.GroupID != tt.want.GroupID || got.Format != tt.want.Format || got.RawCSV != tt.want.RawCSV {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestExportRun(t *testing.T) {
	inst, c := cmdtest.NewServer(t)
	grouptest.SymmetricGroup(t, c, "fleet", nil)
	grouptest.SymmetricGroup(t, c, "lab", nil)
	grouptest.SymmetricGroup(t, c, "empty", nil)
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Registered("dev-1", "hub1.azure-devices.net", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "fleet", grouptest.Failed("dev-2", 401002, "=Invalid certificate.", cmdtest.Now))
	grouptest.PutRegistration(t, inst, "lab", grouptest.Registered("lab-1", "hub2.azure-devices.net", cmdtest.Now))
	runs := []struct {
		name string
		args []string
	}{
		{"group csv", []string{"--group", "fleet"}},
		{"group csv raw", []string{"--group", "fleet", "--raw-csv"}},
		{"group jsonl", []string{"--group", "fleet", "-o", "jsonl"}},
		{"all jsonl", []string{"-o", "jsonl"}},
		{"group without registrations", []string{"--group", "empty"}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			s, err := cmdtest.Exec(t, c, false, NewCmdExport, r.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, s.ErrOut)
			}
			cmdtest.Golden(t, cmdtest.ScrubETags(s.Out.String()))
		})
	}
	t.Run("missing group", func(t *testing.T) {
		_, err := cmdtest.Exec(t, c, false, NewCmdExport, "--group", "lab2")
		if err == nil || err.Error() != `enrollment group "lab2" not found` {
			t.Fatalf("error %v", err)
		}
	})
}
