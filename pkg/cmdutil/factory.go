// Package cmdutil holds what every command shares: the Factory of lazily
// built dependencies, the error types that pkg/cli turns into exit codes,
// and helpers for flags, arguments, completion, confirmation and input.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/cacert"
	"github.com/dpsctl/dpsctl/pkg/config"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/iostreams"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/output"
	"github.com/dpsctl/dpsctl/pkg/sas"
)

// GlobalFlags are the persistent flags of the root command. The root binds
// them; commands read them after flag parsing.
type GlobalFlags struct {
	config.Overrides        // --connection-string, --ca-file, --profile, --data-dir, -o/--output, --api-version, the Azure flags
	Query            string // --query
	Verbose          bool   // -v/--verbose
	ShowKeys         bool   // --show-keys
	Quiet            bool   // --quiet
}

// Factory builds the dependencies of commands on first use, so commands that
// need no service never open one.
type Factory struct {
	IOStreams      *iostreams.IOStreams
	ExecutableName string
	// Flags holds the global flags once parsed.
	Flags *GlobalFlags

	// Config resolves flags, environment and configuration file.
	Config func() (*config.Config, error)
	// Client returns the service client of the configured backend: the
	// service named by the connection string, or the embedded service on
	// the data directory. The first call reports the backend on stderr
	// unless quiet.
	Client func(ctx context.Context) (*dps.Client, error)
	// Hubs returns what manages the IoT hubs linked to the provisioning
	// service and reads their device registries: the local service of the
	// data directory, even when a connection string names another service
	// (in Azure, linked hubs belong to the management plane). The first
	// call notes on stderr, unless quiet, that a configured connection
	// string is not used.
	Hubs func(ctx context.Context) (linkedhub.Service, error)
	// CAs returns what manages the CA certificates of the provisioning
	// service: the local service of the data directory, as for Hubs.
	CAs func(ctx context.Context) (cacert.Service, error)
	// Azure returns the configured Azure instance (--dps-name) as the
	// resource manager describes it, with the ARM client that found it, for
	// the commands of the management plane. It fails when no instance is
	// named.
	Azure func(ctx context.Context) (*azure.Target, error)
	// Policies returns the shared access policies of the configured
	// service with their keys: the Azure instance's through the resource
	// manager (listKeys), or the local service's of the data directory.
	Policies func(ctx context.Context) (*PolicySet, error)
	// Printer returns the printer for -o, --query and --show-keys.
	Printer func() (*output.Printer, error)

	mu      sync.Mutex
	closers []func() error
}

// PolicySet is the shared access policies of a service and the host their
// connection strings name.
type PolicySet struct {
	Host     string
	Policies []sas.Policy
}

// Policy returns the named policy (case-insensitive); a missing one is a
// NotFound-like error that lists the names there are.
func (s *PolicySet) Policy(name string) (sas.Policy, error) {
	names := make([]string, 0, len(s.Policies))
	for _, p := range s.Policies {
		if strings.EqualFold(p.KeyName, name) {
			return p, nil
		}
		names = append(names, p.KeyName)
	}
	return sas.Policy{}, fmt.Errorf("no shared access policy %q on %s (there are: %s)", name, s.Host, strings.Join(names, ", "))
}

// OnClose registers fn to run when the command finishes.
func (f *Factory) OnClose(fn func() error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closers = append(f.closers, fn)
}

// Close runs the registered closers, last registered first.
func (f *Factory) Close() error {
	f.mu.Lock()
	closers := slices.Clone(f.closers)
	f.closers = nil
	f.mu.Unlock()
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	return errors.Join(errs...)
}

// Quiet reports whether status lines on stderr are silenced (--quiet or
// DPSCTL_QUIET).
func (f *Factory) Quiet() bool {
	return (f.Flags != nil && f.Flags.Quiet) || config.Quiet()
}

// NewPrinter builds the printer for the global flags of f: -o (or
// $DPSCTL_OUTPUT), --query and --show-keys. A bad format or query is a usage
// error. It is the usual value of Factory.Printer.
func NewPrinter(f *Factory) (*output.Printer, error) {
	g := f.Flags
	if g == nil {
		g = &GlobalFlags{}
	}
	format := g.Output
	if format == "" {
		format = os.Getenv(config.EnvOutput)
	}
	p, err := output.New(f.IOStreams, output.Options{Format: format, Query: g.Query, ShowKeys: g.ShowKeys})
	if err != nil {
		return nil, FlagErrorWrap(err)
	}
	return p, nil
}
