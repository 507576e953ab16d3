package shared

import (
	"context"
	"iter"
	"strings"
	"sync"

	groupshared "github.com/dpsctl/dpsctl/pkg/cmd/group/shared"
	"github.com/dpsctl/dpsctl/pkg/dps"
	"github.com/dpsctl/dpsctl/pkg/model"
)

// DefaultWorkers is how many registration states AllRegistrations reads at
// once.
const DefaultWorkers = 8

// GroupRegistrations streams the registration states of an enrollment
// group, page by page. The service lists nothing for a group that does not
// exist, so when nothing is listed the group is looked up to tell the two
// apart (an error that is not "not found", such as a policy without read
// rights on enrollments, is ignored).
func GroupRegistrations(ctx context.Context, c *dps.Client, groupID string, opts dps.QueryOptions) iter.Seq2[Registration, error] {
	return func(yield func(Registration, error) bool) {
		n := 0
		for s, err := range c.Registrations(ctx, groupID, opts) {
			if err != nil {
				yield(Registration{}, groupshared.Kind.Explain(err, groupID))
				return
			}
			n++
			if !yield(Registration{DeviceRegistrationState: s, EnrollmentGroupID: groupID}, nil) {
				return
			}
		}
		if n > 0 {
			return
		}
		if _, err := c.GetGroup(ctx, groupID); dps.IsNotFound(err) {
			yield(Registration{}, groupshared.Kind.Explain(err, groupID))
		}
	}
}

// AllRegistrations streams every registration state the service holds. The
// service has no call listing them all, so this lists the registrations of
// every enrollment group, then reads the state of every individual
// enrollment with one call each (a 404 means the device has not registered
// and is skipped). Up to workers (default DefaultWorkers) of those calls run
// at once; the output keeps the order of the enrollments. A registration
// already listed through a group is not read again.
func AllRegistrations(ctx context.Context, c *dps.Client, opts dps.QueryOptions, workers int) iter.Seq2[Registration, error] {
	if workers <= 0 {
		workers = DefaultWorkers
	}
	return func(yield func(Registration, error) bool) {
		seen := map[string]struct{}{}
		for g, err := range c.Groups(ctx, opts) {
			if err != nil {
				yield(Registration{}, err)
				return
			}
			for s, err := range c.Registrations(ctx, g.EnrollmentGroupID, opts) {
				if err != nil {
					yield(Registration{}, err)
					return
				}
				seen[strings.ToLower(s.RegistrationID)] = struct{}{}
				if !yield(Registration{DeviceRegistrationState: s, EnrollmentGroupID: g.EnrollmentGroupID}, nil) {
					return
				}
			}
		}
		for r, err := range individualStates(ctx, c, opts, workers, seen) {
			if !yield(r, err) || err != nil {
				return
			}
		}
	}
}

type lookup struct {
	state *model.DeviceRegistrationState
	err   error
}

// individualStates reads the registration state of every individual
// enrollment not in skip, workers at a time, in enrollment order.
func individualStates(ctx context.Context, c *dps.Client, opts dps.QueryOptions, workers int, skip map[string]struct{}) iter.Seq2[Registration, error] {
	return func(yield func(Registration, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		// pending carries one result channel per enrollment, in order;
		// sem bounds the calls in flight.
		pending := make(chan chan lookup, workers)
		sem := make(chan struct{}, workers)
		var listErr error // written before pending is closed
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(pending)
			for e, err := range c.Enrollments(ctx, opts) {
				if err != nil {
					listErr = err
					return
				}
				if _, dup := skip[strings.ToLower(e.RegistrationID)]; dup {
					continue
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				res := make(chan lookup, 1)
				select {
				case pending <- res:
				case <-ctx.Done():
					<-sem
					return
				}
				wg.Add(1)
				go func(id string) {
					defer wg.Done()
					defer func() { <-sem }()
					s, err := c.GetRegistration(ctx, id)
					res <- lookup{s, err}
				}(e.RegistrationID)
			}
		}()
		for res := range pending {
			l := <-res
			switch {
			case dps.IsNotFound(l.err):
				continue
			case l.err != nil:
				yield(Registration{}, l.err)
				return
			}
			if !yield(Registration{DeviceRegistrationState: *l.state}, nil) {
				return
			}
		}
		if listErr != nil {
			yield(Registration{}, listErr)
		}
	}
}
