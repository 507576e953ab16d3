package server

import (
	"context"
	"fmt"

	"github.com/dpsctl/dpsctl/pkg/sas"
)

// Policies returns the shared access policies of the service with their
// keys, in the store's order.
func (i *Instance) Policies(ctx context.Context) ([]sas.Policy, error) {
	ps, err := i.st.Policies(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	out := make([]sas.Policy, len(ps))
	for n, p := range ps {
		out[n] = sas.Policy{KeyName: p.Name, PrimaryKey: p.PrimaryKey, SecondaryKey: p.SecondaryKey, Rights: append([]string(nil), p.Rights...)}
	}
	return out, nil
}

// ConnectionHost is the host (with its port when not 443) that the
// connection strings of the service's policies name.
func (i *Instance) ConnectionHost() string { return i.connHost() }
