package ca

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/cmdutil/cmdtest"
)

// The printed forms of CA certificates, on a terminal and piped. The CAs
// are fixtures under testdata (valid 2025–2099), so subjects, thumbprints
// and expiry are stable; the etags and times of the run are replaced.
func TestCAGoldens(t *testing.T) {
	localData(t)
	fixture := func(name string) string { return filepath.Join("testdata", name) }
	run(t, []step{
		{name: "add root", args: []string{"add", fixture("root.pem"), "--name", "lab-root", "--ca-key", fixture("root.key")}},
		{name: "add intermediate", args: []string{"add", fixture("inter.pem"), "--name", "lab-inter"}},
	})
	var replace []string
	f, _ := cmdtest.NewFactory(t, nil, false)
	svc, err := f.CAs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	list, err := svc.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		replace = append(replace, c.ETag, "<etag-"+c.Name+">", c.Properties.Created, "<time>", c.Properties.Updated, "<time>")
	}
	f.Close()
	for _, tt := range []struct {
		name string
		tty  bool
		args []string
	}{
		{"list tty", true, []string{"list"}},
		{"list piped", false, []string{"list"}},
		{"show tty", true, []string{"show", "lab-root"}},
		{"show piped", false, []string{"show", "lab-inter"}},
		{"show json", false, []string{"show", "lab-root", "-o", "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, s := cmdtest.NewFactory(t, nil, tt.tty)
			defer f.Close()
			if err := cmdtest.Run(t, f, NewCmdCA(f), tt.args...); err != nil {
				t.Fatal(err)
			}
			cmdtest.Golden(t, s.Out.String(), replace...)
		})
	}
}
