// Package cli runs dpsctl: it builds the Factory and the command tree,
// executes the command under a context that SIGINT and SIGTERM cancel,
// prints errors and turns them into exit codes. It is the only place that
// knows the exit codes (documented in "dpsctl help exit-codes").
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/dpsctl/dpsctl/pkg/azure"
	"github.com/dpsctl/dpsctl/pkg/cmd/factory"
	"github.com/dpsctl/dpsctl/pkg/cmd/root"
	"github.com/dpsctl/dpsctl/pkg/cmd/version"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK           = 0
	ExitError        = 1
	ExitUsage        = 2
	ExitVerification = 3
	ExitAuth         = 4
	ExitInterrupted  = 130
)

// Main runs dpsctl with the process's arguments and streams and returns the
// exit code.
func Main() int {
	args := os.Args[1:]
	f := factory.New(version.Get().Version)
	rootCmd := root.NewCmdRootFor(f, args)
	tuneGC(rootCmd, args)
	ctx := context.Background()
	if catchesSignals(rootCmd, args) {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		go func() {
			// After the first signal a second one ends the process at once.
			<-ctx.Done()
			stop()
		}()
	}
	return Run(ctx, f, rootCmd, args)
}

// lessGC is the GOGC of a run of a command other than serve: a command
// holds little at a time (a page of a listing, a batch of an import), and
// collecting when the heap has grown by four times what is live, not by as
// much again, saves a third of the CPU of listing many enrollments for a
// few megabytes more. The service keeps the default: it may hold hundreds
// of megabytes of telemetry, and GOGC set in the environment wins.
const lessGC = 400

func tuneGC(rootCmd *cobra.Command, args []string) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	if cmd, _, err := rootCmd.Find(args); err == nil && cmd.Name() == "serve" && cmd.Parent() == rootCmd {
		return
	}
	debug.SetGCPercent(lessGC)
}

// catchesSignals reports whether the run catches SIGINT and SIGTERM to
// cancel its command. Runs that only print text they hold (help, help
// topics, the version) do not: catching signals starts threads of its own,
// a good part of such a run, and the default action ends them just as well.
func catchesSignals(rootCmd *cobra.Command, args []string) bool {
	cmd, _, err := rootCmd.Find(args)
	switch {
	case err != nil:
		return true
	case cmd == rootCmd, cmd.Name() == "help" && cmd.Parent() == rootCmd, !cmd.Runnable():
		return false // root help, --version, usage errors; "help <topic>"
	case cmd.Name() == "version" && cmd.Parent() == rootCmd:
		return false
	}
	return true
}

// Run executes the command tree with args, closes what the Factory opened,
// reports any error on the Factory's stderr and returns the exit code.
func Run(ctx context.Context, f *cmdutil.Factory, rootCmd *cobra.Command, args []string) int {
	ios := f.IOStreams
	rootCmd.SetArgs(args)
	rootCmd.SetIn(ios.In)
	rootCmd.SetOut(ios.Out)
	rootCmd.SetErr(ios.ErrOut)
	cmd, err := rootCmd.ExecuteContextC(ctx)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	code := ExitCode(ctx, err)
	if err != nil {
		printError(ios.ErrOut, cmd, err, code, f.Flags != nil && f.Flags.Verbose)
	}
	return code
}

// ExitCode maps the error a command returned to the process exit code.
func ExitCode(ctx context.Context, err error) int {
	var noResults cmdutil.NoResultsError
	var flagErr *cmdutil.FlagError
	var verifyErr *cmdutil.VerificationError
	var authErr *cmdutil.AuthError
	var parseErr *sas.ParseError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &noResults):
		return ExitOK
	case ctx != nil && ctx.Err() != nil, errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &flagErr), isCobraUsageError(err):
		return ExitUsage
	case errors.As(err, &verifyErr):
		return ExitVerification
	case errors.As(err, &authErr), errors.As(err, &parseErr), dps.IsUnauthorized(err), azure.IsAuthFailure(err):
		return ExitAuth
	}
	return ExitError
}

// isCobraUsageError recognises the usage errors cobra itself returns (flag
// parsing errors pass through SetFlagErrorFunc and are FlagErrors already).
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "unknown flag: ", "unknown shorthand flag: ", "flag needs an argument: ", "invalid argument ", "required flag(s) ", "if any flags in the group "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func printError(w io.Writer, cmd *cobra.Command, err error, code int, verbose bool) {
	var noResults cmdutil.NoResultsError
	switch {
	case errors.As(err, &noResults):
		fmt.Fprintln(w, noResults.Message)
		return
	case errors.Is(err, cmdutil.ErrSilent):
		return
	case code == ExitInterrupted:
		fmt.Fprintln(w, "interrupted")
		return
	}
	fmt.Fprintln(w, "error: "+err.Error())
	var apiErr *dps.Error
	if errors.As(err, &apiErr) {
		fmt.Fprintf(w, "  status:     %d %s\n", apiErr.StatusCode, http.StatusText(apiErr.StatusCode))
		if apiErr.ErrorCode != 0 {
			fmt.Fprintf(w, "  errorCode:  %d\n", apiErr.ErrorCode)
		}
		if apiErr.TrackingID != "" {
			fmt.Fprintf(w, "  trackingId: %s\n", apiErr.TrackingID)
		}
		if apiErr.Message != "" {
			fmt.Fprintf(w, "  message:    %s\n", apiErr.Message)
		}
	}
	var hinted interface{ Hint() string }
	if errors.As(err, &hinted) && hinted.Hint() != "" {
		fmt.Fprintln(w, "  hint: "+hinted.Hint())
	}
	if verbose {
		var armErr *azure.ARMError
		if errors.As(err, &armErr) {
			ids := armErr.RequestIDs()
			for _, k := range []string{"x-ms-request-id", "x-ms-correlation-request-id"} {
				if ids[k] != "" {
					fmt.Fprintf(w, "  %s: %s\n", k, ids[k])
				}
			}
		}
		var signIn *azure.SignInError
		if errors.As(err, &signIn) {
			fmt.Fprintln(w, "  details: "+strings.ReplaceAll(strings.TrimSpace(signIn.Details()), "\n", "\n    "))
		}
	}
	var unknownCA x509.UnknownAuthorityError
	var verifyTLS *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &verifyTLS) {
		fmt.Fprintln(w, "  hint: trust the service's CA certificate with --ca-file or DPSCTL_CA_FILE")
	}
	if code == ExitUsage && cmd != nil {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
}
