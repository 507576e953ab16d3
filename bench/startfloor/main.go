// Command startfloor is the floor under dpsctl's start-up that its
// required libraries set: a cobra command reading its settings through
// viper and able to print a tablewriter table, printing one line, built
// as dpsctl is. bench/ starts it beside "dpsctl version" and a hello-world
// binary; whatever dpsctl takes beyond it is dpsctl's own.
package main

import (
	"fmt"
	"os"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func main() {
	v := viper.New()
	v.SetEnvPrefix("STARTFLOOR")
	v.AutomaticEnv()
	table := false
	cmd := &cobra.Command{
		Use:           "startfloor",
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if table || v.GetBool("table") {
				t := tablewriter.NewWriter(cmd.OutOrStdout())
				t.Header("VERSION")
				if err := t.Append([]string{"v0"}); err != nil {
					return err
				}
				return t.Render()
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "startfloor v0")
			return err
		},
	}
	cmd.Flags().BoolVar(&table, "table", false, "print a table")
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
