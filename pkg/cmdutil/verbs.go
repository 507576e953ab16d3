package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

// Service is what a verb that talks to the service takes from the
// Factory: the streams, the client and the printer. Verb options embed it,
// so tests can still replace Client or Printer. The context of the run is
// not part of it: RunE passes cmd.Context() to the run function.
type Service struct {
	IO      *iostreams.IOStreams
	Client  func(context.Context) (*dps.Client, error)
	Printer func() (*output.Printer, error)
}

// Service returns the Service of f.
func (f *Factory) Service() Service {
	return Service{IO: f.IOStreams, Client: f.Client, Printer: f.Printer}
}

// open builds the printer, then the client: a bad -o or --query fails
// before any service call.
func (s Service) open(ctx context.Context) (*output.Printer, *dps.Client, error) {
	p, err := s.Printer()
	if err != nil {
		return nil, nil, err
	}
	c, err := s.Client(ctx)
	if err != nil {
		return nil, nil, err
	}
	return p, c, nil
}

// ShowOne prints the item get fetches, as the show verbs do.
func ShowOne[T any](ctx context.Context, s Service, get func(ctx context.Context, c *dps.Client) (*T, error), cols []output.Column[T]) error {
	p, c, err := s.open(ctx)
	if err != nil {
		return err
	}
	v, err := get(ctx, c)
	if err != nil {
		return err
	}
	return output.Print(p, *v, cols)
}

// ShowList prints the stream list returns as it arrives, stopping after top
// items (0: all). noun names the items when there are none ("no
// enrollments found").
func ShowList[T any](ctx context.Context, s Service, list func(ctx context.Context, c *dps.Client) iter.Seq2[T, error], top int, cols []output.Column[T], noun string) error {
	p, c, err := s.open(ctx)
	if err != nil {
		return err
	}
	return output.PrintSeq(p, Limit(list(ctx, c), top), cols, noun)
}

// PagingFlags defines --page-size and --top of a list verb. perRequest
// starts the help of --page-size ("Enrollments per request"); items names
// what --top counts ("enrollments").
func PagingFlags(cmd *cobra.Command, pageSize, top *int, perRequest, items string) {
	cmd.Flags().IntVar(pageSize, "page-size", 0, perRequest+" (default: the service's, 100)")
	cmd.Flags().IntVar(top, "top", 0, "Stop after this many "+items+" (default: all)")
}

// CheckPaging refuses a negative --page-size or --top.
func CheckPaging(pageSize, top int) error {
	if pageSize < 0 {
		return FlagErrorf("--page-size must be positive")
	}
	if top < 0 {
		return FlagErrorf("--top must be positive")
	}
	return nil
}

// PageSize is the page size to ask the service for: --page-size, but no
// more than --top, so that no more is fetched than printed. 0 leaves the
// service's default.
func PageSize(pageSize, top int) int {
	if top > 0 && (pageSize == 0 || pageSize > top) {
		return top
	}
	return pageSize
}

// DeleteFlags defines --etag, with etagHelp as its help, and -y/--yes of a
// delete verb.
func DeleteFlags(cmd *cobra.Command, etag *string, yes *bool, etagHelp string) {
	cmd.Flags().StringVar(etag, "etag", "", etagHelp)
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "Do not ask for confirmation")
	_ = cmd.RegisterFlagCompletionFunc("etag", cobra.NoFileCompletions)
}

// Deletion words and carries out the deletes of a delete verb, for
// DeleteEach.
type Deletion struct {
	// Ask is the question about one ID, a format with one %q ("Delete
	// enrollment %q?"); Plural names several ("enrollments").
	Ask, Plural string
	// Done is the line written on stderr after each delete, a format with
	// one %q ("Deleted enrollment %q").
	Done string
	// Delete deletes one ID; Explain rewords what it returns.
	Delete  func(ctx context.Context, c *dps.Client, id string) error
	Explain func(err error, id string) error
}

// DeleteEach asks once before deleting ids (see ConfirmDestructive), then
// deletes them in turn, reporting each on stderr. One failure does not stop
// the rest: the failures, explained, come back together. Only the end of
// ctx stops at once.
func DeleteEach(ctx context.Context, s Service, ids []string, yes bool, d Deletion) error {
	ios := s.IO
	question := fmt.Sprintf(d.Ask, ids[0])
	if len(ids) > 1 {
		question = fmt.Sprintf("Delete %d %s (%s)?", len(ids), d.Plural, strings.Join(ids, ", "))
	}
	if err := ConfirmDestructive(ios, yes, question); err != nil {
		return err
	}
	c, err := s.Client(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := d.Delete(ctx, c, id); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, d.Explain(err, id))
			continue
		}
		fmt.Fprintf(ios.ErrOut, d.Done+"\n", id)
	}
	return errors.Join(errs...)
}

// Timestamp shortens a service timestamp to RFC 3339 in whole seconds, for
// table cells; text that does not parse is returned as is.
func Timestamp(s string) string {
	if s == "" {
		return ""
	}
	for _, layout := range []string{time.RFC3339Nano, model.TimeLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return s
}
