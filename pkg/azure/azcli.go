package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// CLITimeout bounds one run of the Azure CLI.
const CLITimeout = 30 * time.Second

// CurrentSubscription returns the ID of the Azure CLI's current subscription
// ("az account show"), the subscription az itself uses when none is given.
func CurrentSubscription(ctx context.Context) (string, error) {
	path, err := exec.LookPath("az")
	if err != nil {
		return "", &SignInError{Kind: CredentialAzureCLI, Err: errAzNotFound}
	}
	ctx, cancel := context.WithTimeout(ctx, CLITimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "account", "show", "--output", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return "", ctx.Err()
		}
		msg := firstLine(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", &SignInError{Kind: CredentialAzureCLI, Err: fmt.Errorf("az account show: %s", msg)}
	}
	return ParseAccount(out)
}

// ParseAccount reads the subscription ID of "az account show -o json".
func ParseAccount(out []byte) (string, error) {
	var acct struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &acct); err != nil {
		return "", fmt.Errorf("az account show: unreadable output: %w", err)
	}
	id := strings.TrimSpace(acct.ID)
	if id == "" {
		return "", errors.New("az account show: no subscription id: run \"az account set --subscription NAME\" or give --subscription")
	}
	return id, nil
}
