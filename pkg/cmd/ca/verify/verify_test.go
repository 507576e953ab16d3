package verify

import (
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdVerify(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		check   func(*VerifyOptions) bool
		wantErr string
	}{
		{args: []string{"lab-root", "--ca-key", "root.key"}, check: func(o *VerifyOptions) bool { return o.Name == "lab-root" && o.CAKey == "root.key" }},
		{args: []string{"lab-root", "--generate-code", "--etag", "E"}, check: func(o *VerifyOptions) bool { return o.GenerateCode && o.ETag == "E" }},
		{args: []string{"lab-root", "--certificate", "v.pem"}, check: func(o *VerifyOptions) bool { return o.Certificate == "v.pem" }},
		{args: []string{"lab-root"}, wantErr: "give one of --ca-key, --generate-code and --certificate"},
		{args: []string{"lab-root", "--ca-key", "k", "--certificate", "v.pem"}, wantErr: "give one of"},
		{args: []string{"lab-root", "--generate-code", "--certificate", "v.pem"}, wantErr: "give one of"},
		{args: []string{"--ca-key", "k"}, wantErr: "give the name of one CA certificate"},
	} {
		got, err := cmdtest.Parse(t, NewCmdVerify, tt.args...)
		if tt.wantErr != "" {
			cmdtest.WantUsageError(t, err, tt.wantErr)
			continue
		}
		if err != nil || !tt.check(got) {
			t.Errorf("%q: %+v, %v", tt.args, got, err)
		}
	}
}
