// Package cert is the "dpsctl cert" noun: local X.509 work for X.509
// attestation. None of its verbs talks to the service.
package cert

import (
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/create"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/inspect"
	verificationcert "github.com/dpsctl/dpsctl/pkg/cmd/cert/verification-cert"
	"github.com/dpsctl/dpsctl/pkg/cmd/cert/verify"
	"github.com/dpsctl/dpsctl/pkg/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdCert builds "dpsctl cert".
func NewCmdCert(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cert <command>",
		Aliases: []string{"certificate"},
		Short:   "Inspect, verify and create X.509 certificates",
		Long: `Work with X.509 certificates locally: describe them, check device chains
against the rules the provisioning service applies, create test PKIs, and
create the proof-of-possession certificate for a CA's verification code.
Only "verify --group" contacts the service (to read the group).`,
		Example: `  dpsctl cert create root
  dpsctl cert create intermediate --ca root.pem --ca-key root.key
  dpsctl cert create device --registration-id dev-1 --ca intermediate.pem --ca-key intermediate.key
  dpsctl cert inspect dev-1.pem
  dpsctl cert verify dev-1.pem --root root.pem --registration-id dev-1
  dpsctl cert verification-cert --ca root.pem --ca-key root.key --code "$code"`,
	}
	cmd.AddCommand(
		inspect.NewCmdInspect(f, nil),
		verify.NewCmdVerify(f, nil),
		create.NewCmdCreate(f, nil),
		verificationcert.NewCmdVerificationCert(f, nil),
	)
	return cmd
}
