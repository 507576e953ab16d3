// Package shared holds what the "dpsctl config" verbs share: the profile
// columns, profile-name completion and file access.
package shared

import (
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/spf13/cobra"
)

// Columns are the table columns of a profile.
var Columns = []output.Column[config.Profile]{
	{Header: "CURRENT", Value: func(p config.Profile) string {
		if p.Current {
			return "*"
		}
		return ""
	}},
	{Header: "NAME", Value: func(p config.Profile) string { return p.Name }},
	{Header: "HOST", Value: func(p config.Profile) string {
		cs, err := sas.ParseConnectionString(p.ConnectionString)
		if err != nil {
			return p.Host // a profile of an Azure instance reached with Entra ID
		}
		return cs.HostName
	}},
	{Header: "CONNECTION STRING", Value: func(p config.Profile) string { return p.ConnectionString }, Secret: true},
	{Header: "CA FILE", Value: func(p config.Profile) string { return p.CAFile }},
}

// ReadFile reads the configuration file at its usual place.
func ReadFile() (*config.File, error) {
	path, err := config.FilePath()
	if err != nil {
		return nil, err
	}
	return config.ReadFile(path)
}

// CompleteProfileNames completes the first argument with profile names.
func CompleteProfileNames(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	f, err := ReadFile()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []cobra.Completion
	for _, p := range f.List() {
		names = append(names, p.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
