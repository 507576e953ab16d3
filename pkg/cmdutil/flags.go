package cmdutil

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// EnumValue is a string flag restricted to a set of values. Aliases map
// other accepted spellings to a canonical value; they are accepted but not
// offered in help or completion.
type EnumValue struct {
	target  *string
	options []string
	aliases map[string]string
}

// String implements pflag.Value.
func (e *EnumValue) String() string { return *e.target }

// Type implements pflag.Value; help shows the choices.
func (e *EnumValue) Type() string { return "string" }

// Set implements pflag.Value.
func (e *EnumValue) Set(v string) error {
	if slices.Contains(e.options, v) {
		*e.target = v
		return nil
	}
	if c, ok := e.aliases[v]; ok {
		*e.target = c
		return nil
	}
	for _, o := range e.options {
		if strings.EqualFold(o, v) {
			*e.target = o
			return nil
		}
	}
	for a, c := range e.aliases {
		if strings.EqualFold(a, v) {
			*e.target = c
			return nil
		}
	}
	return fmt.Errorf("valid values are %s", strings.Join(e.options, ", "))
}

// StringEnumFlag adds a flag that accepts only options (case-insensitively)
// and completes them in shells. The usage text gets "{a|b|c}" appended.
func StringEnumFlag(cmd *cobra.Command, p *string, name, shorthand, def string, options []string, usage string) *pflag.Flag {
	return StringEnumFlagAliases(cmd.Flags(), cmd, p, name, shorthand, def, options, nil, usage)
}

// StringEnumFlagAliases is StringEnumFlag on a given flag set (for example
// persistent flags), with extra accepted spellings.
func StringEnumFlagAliases(fs *pflag.FlagSet, cmd *cobra.Command, p *string, name, shorthand, def string, options []string, aliases map[string]string, usage string) *pflag.Flag {
	*p = def
	val := &EnumValue{target: p, options: options, aliases: aliases}
	fs.VarP(val, name, shorthand, fmt.Sprintf("%s: {%s}", usage, strings.Join(options, "|")))
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return options, cobra.ShellCompDirectiveNoFileComp
	})
	return fs.Lookup(name)
}

// FileFlag marks a flag as a file name whose completion is limited to the
// given extensions (without dots).
func FileFlag(cmd *cobra.Command, name string, exts ...string) {
	_ = cmd.MarkFlagFilename(name, exts...)
}

// ExactArgs accepts exactly n arguments; otherwise a usage error with msg
// (or a generic message when msg is empty).
func ExactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if msg != "" {
			return FlagErrorf("%s", msg)
		}
		return FlagErrorf("%q takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
	}
}

// MinimumArgs accepts n or more arguments.
func MinimumArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		if msg != "" {
			return FlagErrorf("%s", msg)
		}
		return FlagErrorf("%q needs at least %d argument(s)", cmd.CommandPath(), n)
	}
}

// MaximumArgs accepts at most n arguments.
func MaximumArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		if msg != "" {
			return FlagErrorf("%s", msg)
		}
		return FlagErrorf("%q takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
	}
}

// MutuallyExclusive fails with a usage error when more than one of the
// conditions holds.
func MutuallyExclusive(message string, conditions ...bool) error {
	n := 0
	for _, c := range conditions {
		if c {
			n++
		}
	}
	if n > 1 {
		return FlagErrorf("%s", message)
	}
	return nil
}
