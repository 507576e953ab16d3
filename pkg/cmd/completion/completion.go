// Package completion is "dpsctl completion": shell completion scripts.
package completion

import (
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// Shells are the supported shells.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// NewCmdCompletion builds "dpsctl completion SHELL".
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion {bash|zsh|fish|powershell}",
		Short: "Generate a shell completion script",
		Long: `Print the completion script for a shell. Enrollment and group IDs complete
live from the configured provisioning service.

bash (needs the bash-completion package):
  source <(dpsctl completion bash)
  # for every new shell:
  dpsctl completion bash > ~/.local/share/bash-completion/completions/dpsctl

zsh:
  dpsctl completion zsh > "${fpath[1]}/_dpsctl"

fish:
  dpsctl completion fish > ~/.config/fish/completions/dpsctl.fish

PowerShell:
  dpsctl completion powershell | Out-String | Invoke-Expression`,
		Example: `  source <(dpsctl completion bash)
  dpsctl completion zsh > "${fpath[1]}/_dpsctl"`,
		ValidArgs:             Shells,
		Args:                  cmdutil.ExactArgs(1, "name a shell: bash, zsh, fish or powershell"),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := f.IOStreams.Out
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return cmdutil.FlagErrorf("unsupported shell %q (want bash, zsh, fish or powershell)", args[0])
		},
	}
}
