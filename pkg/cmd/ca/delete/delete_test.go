package delete

import (
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

func TestNewCmdDelete(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		check   func(*DeleteOptions) bool
		wantErr string
	}{
		{args: []string{"a", "b", "--yes"}, check: func(o *DeleteOptions) bool { return strings.Join(o.Names, ",") == "a,b" && o.Yes }},
		{args: []string{"a", "--etag", "E", "-y"}, check: func(o *DeleteOptions) bool { return o.ETag == "E" && o.Yes }},
		{args: []string{"a", "b", "--etag", "E"}, wantErr: "give one name"},
		{args: []string{}, wantErr: "give the name of at least one CA certificate"},
	} {
		got, err := cmdtest.Parse(t, NewCmdDelete, tt.args...)
		if tt.wantErr != "" {
			cmdtest.WantUsageError(t, err, tt.wantErr)
			continue
		}
		if err != nil || !tt.check(got) {
			t.Errorf("%q: %+v, %v", tt.args, got, err)
		}
	}
}
