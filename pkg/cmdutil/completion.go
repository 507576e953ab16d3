package cmdutil

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/spf13/cobra"
)

// CompletionTimeout bounds the service calls of shell completion.
const CompletionTimeout = 2 * time.Second

// CompleteIDs returns a ValidArgsFunction that lists IDs from the configured
// backend. It stays silent on any failure (no backend line, no error), waits
// at most CompletionTimeout, offers no file names, and skips IDs already on
// the command line. With multi unset it completes only the first argument.
func CompleteIDs(f *Factory, multi bool, list func(ctx context.Context, c *dps.Client) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !multi && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if f.Flags != nil {
			f.Flags.Quiet = true
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, CompletionTimeout)
		defer cancel()
		ids, err := func() ([]string, error) {
			c, err := f.Client(ctx)
			if err != nil {
				return nil, err
			}
			return list(ctx, c)
		}()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, id := range ids {
			if slices.Contains(args, id) || !strings.HasPrefix(strings.ToLower(id), strings.ToLower(toComplete)) {
				continue
			}
			out = append(out, id)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CollectIDs gathers up to limit IDs from a query stream, for CompleteIDs.
func CollectIDs[T any](seq func(yield func(T, error) bool), id func(T) string, limit int) ([]string, error) {
	var ids []string
	for it, err := range seq {
		if err != nil {
			return ids, err
		}
		ids = append(ids, id(it))
		if len(ids) >= limit {
			break
		}
	}
	return ids, nil
}
