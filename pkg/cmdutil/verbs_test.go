package cmdutil

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/spf13/cobra"
)

type item struct {
	ID string `json:"id"`
}

var itemColumns = []output.Column[item]{{Header: "ID", Value: func(it item) string { return it.ID }}}

func TestShowOne(t *testing.T) {
	errGet := errors.New("get failed")
	errClient := errors.New("no service")
	tests := []struct {
		name      string
		format    string
		clientErr error
		getErr    error
		wantErr   error
		usage     bool
		wantOut   string
		wantCalls int
	}{
		{name: "printed", format: "json", wantOut: "{\n  \"id\": \"a\"\n}\n", wantCalls: 1},
		{name: "bad format before any call", format: "xml", usage: true},
		{name: "client fails", format: "json", clientErr: errClient, wantErr: errClient, wantCalls: 1},
		{name: "get fails", format: "json", getErr: errGet, wantErr: errGet, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			calls := 0
			printer := func() (*output.Printer, error) {
				p, err := output.New(ios, output.Options{Format: tt.format})
				if err != nil {
					return nil, FlagErrorWrap(err)
				}
				return p, nil
			}
			client := func(context.Context) (*dps.Client, error) { calls++; return nil, tt.clientErr }
			err := ShowOne(t.Context(), Service{Printer: printer, Client: client}, func(context.Context, *dps.Client) (*item, error) {
				if tt.getErr != nil {
					return nil, tt.getErr
				}
				return &item{ID: "a"}, nil
			}, itemColumns)
			var fe *FlagError
			switch {
			case tt.usage:
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want usage error", err)
				}
			case !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls || out.String() != tt.wantOut {
				t.Errorf("%d client calls, stdout %q; want %d, %q", calls, out, tt.wantCalls, tt.wantOut)
			}
		})
	}
}

func items(ids ...string) iter.Seq2[item, error] {
	return func(yield func(item, error) bool) {
		for _, id := range ids {
			if !yield(item{ID: id}, nil) {
				return
			}
		}
	}
}

func TestShowList(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		ids        []string
		top        int
		wantOut    string
		wantErrOut string
	}{
		{name: "all", format: "tsv", ids: []string{"a", "b", "c"}, wantOut: "a\nb\nc\n"},
		{name: "top", format: "tsv", ids: []string{"a", "b", "c"}, top: 2, wantOut: "a\nb\n"},
		{name: "top above count", format: "tsv", ids: []string{"a"}, top: 5, wantOut: "a\n"},
		{name: "empty table", ids: nil, wantErrOut: "no items found\n"},
		{name: "empty json", format: "json", ids: nil, wantOut: "[]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			printer := func() (*output.Printer, error) { return output.New(ios, output.Options{Format: tt.format}) }
			client := func(context.Context) (*dps.Client, error) { return nil, nil }
			err := ShowList(t.Context(), Service{Printer: printer, Client: client}, func(context.Context, *dps.Client) iter.Seq2[item, error] { return items(tt.ids...) }, tt.top, itemColumns, "items")
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.wantOut || errOut.String() != tt.wantErrOut {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out, errOut, tt.wantOut, tt.wantErrOut)
			}
		})
	}
}

func TestPaging(t *testing.T) {
	tests := []struct {
		pageSize, top, want int
		bad                 string
	}{
		{pageSize: 0, top: 0, want: 0},
		{pageSize: 10, top: 0, want: 10},
		{pageSize: 0, top: 3, want: 3},
		{pageSize: 10, top: 3, want: 3},
		{pageSize: 2, top: 3, want: 2},
		{pageSize: -1, bad: "--page-size must be positive"},
		{top: -1, bad: "--top must be positive"},
	}
	for _, tt := range tests {
		err := CheckPaging(tt.pageSize, tt.top)
		if tt.bad != "" {
			var fe *FlagError
			if !errors.As(err, &fe) || err.Error() != tt.bad {
				t.Errorf("CheckPaging(%d, %d) = %v, want usage error %q", tt.pageSize, tt.top, err, tt.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("CheckPaging(%d, %d) = %v", tt.pageSize, tt.top, err)
		}
		if got := PageSize(tt.pageSize, tt.top); got != tt.want {
			t.Errorf("PageSize(%d, %d) = %d, want %d", tt.pageSize, tt.top, got, tt.want)
		}
	}

	var pageSize, top int
	cmd := &cobra.Command{Use: "list"}
	PagingFlags(cmd, &pageSize, &top, "Things per request", "things")
	if err := cmd.ParseFlags([]string{"--page-size", "7", "--top", "9"}); err != nil || pageSize != 7 || top != 9 {
		t.Fatalf("parsed %d, %d: %v", pageSize, top, err)
	}
	if u := cmd.Flags().Lookup("page-size").Usage; u != "Things per request (default: the service's, 100)" {
		t.Errorf("--page-size help %q", u)
	}
	if u := cmd.Flags().Lookup("top").Usage; u != "Stop after this many things (default: all)" {
		t.Errorf("--top help %q", u)
	}
}

func TestDeleteEach(t *testing.T) {
	errGone := errors.New("gone")
	tests := []struct {
		name       string
		tty        bool
		yes        bool
		input      string
		ids        []string
		fail       map[string]error
		cancelAt   string
		wantErr    string
		usage      bool
		wantErrOut string
		deleted    []string
	}{
		{name: "not a terminal needs --yes", ids: []string{"a"}, wantErr: "--yes is required when not running interactively", usage: true},
		{name: "yes", yes: true, ids: []string{"a"}, wantErrOut: "Deleted thing \"a\"\n", deleted: []string{"a"}},
		{name: "confirmed", tty: true, input: "y\n", ids: []string{"a", "b"},
			wantErrOut: "Delete 2 things (a, b)? [y/N]: Deleted thing \"a\"\nDeleted thing \"b\"\n", deleted: []string{"a", "b"}},
		{name: "declined", tty: true, input: "n\n", ids: []string{"a"}, wantErr: "cancelled", wantErrOut: "Delete thing \"a\"? [y/N]: "},
		{name: "failures do not stop the rest", yes: true, ids: []string{"a", "b", "c", "d"}, fail: map[string]error{"b": errGone, "d": errGone},
			wantErr: "thing \"b\": gone\nthing \"d\": gone", wantErrOut: "Deleted thing \"a\"\nDeleted thing \"c\"\n", deleted: []string{"a", "c"}},
		{name: "end of context stops", yes: true, ids: []string{"a", "b", "c"}, cancelAt: "b",
			wantErr: "context canceled", wantErrOut: "Deleted thing \"a\"\n", deleted: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, in, _, errOut := iostreams.Test()
			ios.SetTTY(tt.tty)
			in.WriteString(tt.input)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var deleted []string
			client := func(context.Context) (*dps.Client, error) { return nil, nil }
			err := DeleteEach(ctx, Service{IO: ios, Client: client}, tt.ids, tt.yes, Deletion{
				Ask: "Delete thing %q?", Plural: "things", Done: "Deleted thing %q",
				Delete: func(ctx context.Context, _ *dps.Client, id string) error {
					if id == tt.cancelAt {
						cancel()
						return ctx.Err()
					}
					if err := tt.fail[id]; err != nil {
						return err
					}
					deleted = append(deleted, id)
					return nil
				},
				Explain: func(err error, id string) error { return Reword(err, "thing %q: %v", id, err) },
			})
			if (tt.wantErr == "") != (err == nil) || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			var fe *FlagError
			if errors.As(err, &fe) != tt.usage {
				t.Errorf("usage error: %v", err)
			}
			if errOut.String() != tt.wantErrOut {
				t.Errorf("stderr %q, want %q", errOut, tt.wantErrOut)
			}
			if strings.Join(deleted, ",") != strings.Join(tt.deleted, ",") {
				t.Errorf("deleted %v, want %v", deleted, tt.deleted)
			}
		})
	}

	var etag string
	var yes bool
	cmd := &cobra.Command{Use: "delete"}
	DeleteFlags(cmd, &etag, &yes, "Delete only if the thing still has this etag")
	if err := cmd.ParseFlags([]string{"-y", "--etag", "E"}); err != nil || !yes || etag != "E" {
		t.Fatalf("parsed %v, %q: %v", yes, etag, err)
	}
	if u := cmd.Flags().Lookup("etag").Usage; u != "Delete only if the thing still has this etag" {
		t.Errorf("--etag help %q", u)
	}
}

func TestTimestamp(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		"2025-01-02T03:04:05.1234567Z": "2025-01-02T03:04:05Z",
		"2025-01-02T03:04:05+02:00":    "2025-01-02T01:04:05Z",
		"yesterday":                    "yesterday",
	} {
		if got := Timestamp(in); got != want {
			t.Errorf("Timestamp(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFactoryService(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	errClient, errPrinter := errors.New("client"), errors.New("printer")
	f := &Factory{
		IOStreams: ios,
		Client:    func(context.Context) (*dps.Client, error) { return nil, errClient },
		Printer:   func() (*output.Printer, error) { return nil, errPrinter },
	}
	s := f.Service()
	if _, err := s.Client(context.Background()); s.IO != ios || !errors.Is(err, errClient) {
		t.Fatalf("service %+v: client %v", s, err)
	}
	if _, err := s.Printer(); !errors.Is(err, errPrinter) {
		t.Fatalf("printer %v", err)
	}
}
