package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/dpsctl/dpsctl/pkg/certs"
	"github.com/dpsctl/dpsctl/pkg/linkedhub"
	"github.com/dpsctl/dpsctl/pkg/model"
	"github.com/dpsctl/dpsctl/pkg/sas"
	"github.com/dpsctl/dpsctl/pkg/server/device"
	"github.com/dpsctl/dpsctl/pkg/server/internal/httpapi"
	"github.com/dpsctl/dpsctl/pkg/store"
)

// The linked hubs and their device registries, managed through the
// instance: what the hub commands use (linkedhub.Service), plus the
// writes that seed registries and registration states without devices.

var _ linkedhub.Service = (*Instance)(nil)

// hubDevicePage is how many devices HubDevices reads from the store at a
// time.
const hubDevicePage = 500

// notFoundError is a store.ErrNotFound that also matches
// linkedhub.ErrNotFound, with the store's message.
type notFoundError struct{ err error }

func (e notFoundError) Error() string        { return e.err.Error() }
func (e notFoundError) Unwrap() error        { return e.err }
func (e notFoundError) Is(target error) bool { return target == linkedhub.ErrNotFound }

// notFound makes a store error that says "not found" match
// linkedhub.ErrNotFound too.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFoundError{err}
	}
	return err
}

func hubOf(h store.LinkedHub) linkedhub.Hub {
	return linkedhub.Hub{HostName: h.HostName, ConnectionString: h.ConnectionString, AllocationWeight: h.AllocationWeight, ApplyAllocationPolicy: h.ApplyAllocationPolicy}
}

// LinkHub links an IoT hub by host name, or updates the weight and the
// apply-allocation-policy flag of a linked one (keeping its connection
// string). A new local hub gets an owner policy key of its own.
func (i *Instance) LinkHub(ctx context.Context, hostName string, weight int, applyAllocationPolicy bool) (linkedhub.Hub, error) {
	if err := validateHubName(hostName); err != nil {
		return linkedhub.Hub{}, err
	}
	if weight < 0 {
		return linkedhub.Hub{}, fmt.Errorf("server: allocation weight %d is negative", weight)
	}
	var h store.LinkedHub
	err := i.st.Update(ctx, func(tx *store.Tx) error {
		hs, err := tx.LinkedHubs()
		if err != nil {
			return err
		}
		var ok bool
		if h, ok = device.FindHub(hs, hostName); !ok {
			h = newLinkedHub(hostName)
		}
		h.AllocationWeight, h.ApplyAllocationPolicy = weight, applyAllocationPolicy
		return tx.PutLinkedHub(h)
	})
	if err != nil {
		return linkedhub.Hub{}, fmt.Errorf("server: link hub %s: %w", hostName, err)
	}
	i.invalidate()
	return hubOf(h), nil
}

// UnlinkHub unlinks a hub (an error matching store.ErrNotFound and
// linkedhub.ErrNotFound if it is not linked). Its device registry stays.
func (i *Instance) UnlinkHub(ctx context.Context, hostName string) error {
	if err := i.st.DeleteLinkedHub(ctx, hostName); err != nil {
		return fmt.Errorf("server: unlink hub %s: %w", hostName, notFound(err))
	}
	i.invalidate()
	return nil
}

// LinkedHubs returns the linked hubs in link order.
func (i *Instance) LinkedHubs(ctx context.Context) ([]linkedhub.Hub, error) {
	hs, err := i.st.LinkedHubs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]linkedhub.Hub, len(hs))
	for k, h := range hs {
		out[k] = hubOf(h)
	}
	return out, nil
}

// CountHubDevices counts the devices of a hub's registry, or of every
// hub's when hub is empty.
func (i *Instance) CountHubDevices(ctx context.Context, hub string) (int, error) {
	return i.st.CountHubDevices(ctx, hub)
}

// HubDevices walks the devices of a hub's registry (every hub's when hub
// is empty) in creation order, reading the store a page at a time.
func (i *Instance) HubDevices(ctx context.Context, hub string) iter.Seq2[linkedhub.Device, error] {
	return func(yield func(linkedhub.Device, error) bool) {
		for after := int64(0); ; {
			page, err := i.st.ListHubDevices(ctx, hub, after, hubDevicePage)
			if err != nil {
				yield(linkedhub.Device{}, err)
				return
			}
			for _, d := range page.Items {
				if !yield(*d, nil) {
					return
				}
			}
			if page.Next == 0 {
				return
			}
			after = page.Next
		}
	}
}

// HubDevice returns a device of a hub's registry. An empty hub searches
// every hub; the device must then be in exactly one. An error that
// matches store.ErrNotFound and linkedhub.ErrNotFound says no registry
// searched has it.
func (i *Instance) HubDevice(ctx context.Context, hub, id string) (linkedhub.Device, error) {
	if hub != "" {
		d, err := i.st.HubDevice(ctx, hub, id)
		if err != nil {
			return linkedhub.Device{}, notFound(err)
		}
		return *d, nil
	}
	devs, err := i.st.FindHubDevices(ctx, id)
	if err != nil {
		return linkedhub.Device{}, err
	}
	switch len(devs) {
	case 0:
		return linkedhub.Device{}, notFound(fmt.Errorf("device %q: %w", id, store.ErrNotFound))
	case 1:
		return *devs[0], nil
	}
	names := make([]string, len(devs))
	for k, d := range devs {
		names[k] = d.HubHostName
	}
	return linkedhub.Device{}, fmt.Errorf("device %q is in several hubs (%s); name the hub", id, strings.Join(names, ", "))
}

// PutHubDevice creates or replaces a device identity in a hub's registry,
// as the service does when it assigns a device: for tools and tests that
// need registries without devices registering.
func (i *Instance) PutHubDevice(ctx context.Context, d linkedhub.Device) error {
	return i.st.PutHubDevice(ctx, &d)
}

// PutRegistration records a registration state as if the device had
// registered through the enrollment group groupID ("" for an individual
// enrollment). The service API has no such call (devices create their
// registration states by registering); this is for tools and tests that
// need registrations without devices.
func (i *Instance) PutRegistration(ctx context.Context, groupID string, s model.DeviceRegistrationState) error {
	return i.st.PutRegistration(ctx, &store.Registration{State: s, EnrollmentGroupID: groupID}, "")
}

// hubKeyName is the name of a local hub's owner policy.
const hubKeyName = "iothubowner"

// newLinkedHub describes a local hub: weight 1, in the allocation policy,
// and a connection string with a fresh owner key.
func newLinkedHub(hostName string) store.LinkedHub {
	cs := sas.ConnectionString{HostName: hostName, KeyName: hubKeyName, Key: httpapi.RandomKey(policyKeyBytes)}
	return store.LinkedHub{HostName: hostName, ConnectionString: cs.String(), AllocationWeight: 1, ApplyAllocationPolicy: true}
}

// validateHubName accepts a DNS name or an IP address, without a port.
func validateHubName(h string) error {
	if strings.TrimSpace(h) == "" {
		return errors.New("server: the hub host name is empty")
	}
	if strings.ContainsAny(h, ":/ ") {
		return fmt.Errorf("server: hub host name %q must be a host name without scheme, port or path", h)
	}
	return validateHostName(h)
}

// linkHubs links the hubs of Options.Hubs and, once per data directory,
// the default hub. It runs inside the bootstrap transaction.
func linkHubs(tx *store.Tx, defaultHub string, extra []string) error {
	hs, err := tx.LinkedHubs()
	if err != nil {
		return err
	}
	_, err = tx.Meta(store.MetaDefaultHub)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, ok := device.FindHub(hs, defaultHub); !ok {
			h := newLinkedHub(defaultHub)
			if err := tx.PutLinkedHub(h); err != nil {
				return err
			}
			hs = append(hs, h)
		}
		if err := tx.SetMeta(store.MetaDefaultHub, defaultHub); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	for _, name := range extra {
		if err := validateHubName(name); err != nil {
			return err
		}
		if _, ok := device.FindHub(hs, name); ok {
			continue
		}
		h := newLinkedHub(name)
		if err := tx.PutLinkedHub(h); err != nil {
			return err
		}
		hs = append(hs, h)
	}
	return nil
}

// PutCACertificate adds or replaces a CA certificate of the service under
// name: what the caReferences of X.509 enrollment groups name. Only a
// verified certificate anchors device chains (the local service has no
// proof-of-possession flow of its own: the caller vouches for it).
func (i *Instance) PutCACertificate(ctx context.Context, name string, cert *x509.Certificate, verified bool) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("server: a CA certificate needs a name")
	}
	if ps := certs.CheckSigningCertificate(cert, i.now()); len(ps) > 0 {
		return fmt.Errorf("server: CA certificate %q: %s", name, ps[0].String())
	}
	err := i.st.PutCertificate(ctx, store.Certificate{
		Name: name, Certificate: certs.EncodePEM(cert), Verified: verified, Created: model.FormatTime(i.now()),
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	i.invalidate()
	return nil
}
