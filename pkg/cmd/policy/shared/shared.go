// Package shared holds what the policy verbs share: the columns of a
// policy and completion of policy names.
package shared

import (
	"context"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/spf13/cobra"
)

// Columns are the table columns of a policy.
var Columns = []output.Column[sas.Policy]{
	{Header: "KEY NAME", Value: func(p sas.Policy) string { return p.KeyName }, Full: true},
	{Header: "RIGHTS", Value: func(p sas.Policy) string { return strings.Join(p.Rights, ", ") }},
	{Header: "PRIMARY KEY", Value: func(p sas.Policy) string { return p.PrimaryKey }, Secret: true},
	{Header: "SECONDARY KEY", Value: func(p sas.Policy) string { return p.SecondaryKey }, Secret: true},
}

// CompletePolicyNames completes the first argument with the policies'
// names.
func CompletePolicyNames(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 || f.Policies == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		set, err := f.Policies(context.Background())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, p := range set.Policies {
			names = append(names, p.KeyName)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
