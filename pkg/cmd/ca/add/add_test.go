package add

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdAdd(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		check   func(*AddOptions) bool
		wantErr string
	}{
		{args: []string{"certs/root.pem"}, check: func(o *AddOptions) bool {
			return o.File == "certs/root.pem" && o.Name == "root" && !o.Verify && !o.Force
		}},
		{args: []string{"root.cer", "--name", "lab-root", "--force"}, check: func(o *AddOptions) bool { return o.Name == "lab-root" && o.Force }},
		{args: []string{"root.pem", "--ca-key", "root.key"}, check: func(o *AddOptions) bool { return o.Verify && o.CAKey == "root.key" }},
		{args: []string{"root.pem", "--verify", "--ca-key", "root.key"}, check: func(o *AddOptions) bool { return o.Verify && o.CAKey == "root.key" }},
		{args: []string{"root.pem", "--verify"}, wantErr: "--verify needs --ca-key"},
		{args: []string{"my root.pem"}, wantErr: `the file name "my root.pem" is no certificate name`},
		{args: []string{"root.pem", "--name", "a/b"}, wantErr: "--name: certificate name"},
		{args: []string{}, wantErr: "give the file of one CA certificate"},
	} {
		got, err := cmdtest.Parse(t, NewCmdAdd, tt.args...)
		if tt.wantErr != "" {
			cmdtest.WantUsageError(t, err, tt.wantErr)
			continue
		}
		if err != nil || !tt.check(got) {
			t.Errorf("%q: %+v, %v", tt.args, got, err)
		}
	}
}
