// Package version is "dpsctl version" and the build information behind it.
// Release builds set the variables with the linker:
//
//	go build -ldflags "-X github.com/dpsctl/dpsctl/pkg/cmd/version.Version=v1.2.3
//	  -X github.com/dpsctl/dpsctl/pkg/cmd/version.Commit=abc1234
//	  -X github.com/dpsctl/dpsctl/pkg/cmd/version.Date=2025-01-02T03:04:05Z"
//
// Unset values are taken from the module build information, read on demand.
package version

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// Set with -ldflags -X at release time.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info describes the build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information, filling what the linker did not set
// from runtime/debug.ReadBuildInfo.
var Get = sync.OnceValue(func() Info {
	info := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && Commit == "" && info.Commit != "" {
			info.Commit += "-dirty"
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	return info
})

// String is the one-line version text.
func (i Info) String() string {
	s := "dpsctl version " + i.Version
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if i.Date != "" {
			s += ", built " + i.Date
		}
		s += ")"
	} else if i.Date != "" {
		s += " (built " + i.Date + ")"
	}
	return s + " " + i.GoVersion + " " + i.Platform
}

// Options are the inputs of "dpsctl version".
type Options struct {
	Info    Info
	Printer func() (*output.Printer, error)
	Out     func(string) error
}

// NewCmdVersion builds "dpsctl version".
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Printer: f.Printer}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of dpsctl",
		Long:  "Print the version, commit and build date of dpsctl.",
		Example: `  dpsctl version
  dpsctl version -o json`,
		Args: cmdutil.ExactArgs(0, "version takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Info = Get()
			opts.Out = func(s string) error {
				_, err := fmt.Fprintln(f.IOStreams.Out, s)
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func versionRun(ctx context.Context, opts *Options) error {
	p, err := opts.Printer()
	if err != nil {
		return err
	}
	if p.Format() == output.FormatTable && !p.HasQuery() {
		return opts.Out(opts.Info.String())
	}
	return output.Print(p, opts.Info, []output.Column[Info]{
		{Header: "VERSION", Value: func(i Info) string { return i.Version }},
		{Header: "COMMIT", Value: func(i Info) string { return i.Commit }},
		{Header: "DATE", Value: func(i Info) string { return i.Date }},
		{Header: "GO VERSION", Value: func(i Info) string { return i.GoVersion }},
		{Header: "PLATFORM", Value: func(i Info) string { return i.Platform }},
	})
}
