package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/dpsctl/dpsctl/pkg/apierr"
)

// This file makes the HTTP calls of a registration: authorization,
// retries of transient failures with back-off, and the waits between polls.

func (c *Client) authorization(ctx context.Context) (string, error) {
	return c.att.Authorization(ctx, c.idScope, c.regID, c.now().Add(c.lifetime))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request: transient answers (429, 5xx) are retried after
// Retry-After (or a backoff), and one 401 TPM challenge is answered when
// the attester is a Challenger, after which auth is asked again.
func (c *Client) call(ctx context.Context, method, path string, body []byte, auth func() (string, error)) (*response, error) {
	challenged := false
	for attempt := 0; ; attempt++ {
		a, err := auth()
		if err != nil {
			return nil, err
		}
		res, err := c.once(ctx, method, path, body, a)
		if err == nil {
			return res, nil
		}
		var e *Error
		if !errors.As(err, &e) {
			return nil, err
		}
		if e.StatusCode == http.StatusUnauthorized && !challenged && a == "" {
			if ch, ok := c.att.(Challenger); ok {
				if chal, ok := parseChallenge(e.body); ok {
					if err := ch.Challenge(ctx, chal); err != nil {
						return nil, err
					}
					challenged = true
					attempt--
					continue
				}
			}
		}
		if !e.Transient() || attempt >= c.maxRetries {
			return nil, e
		}
		wait := e.RetryAfter
		if wait <= 0 {
			wait = backoff(attempt)
		}
		if err := c.sleep(ctx, c.clamp(wait)); err != nil {
			return nil, err
		}
	}
}

// backoff is the wait before retry attempt+1 when the service named none:
// 1 s, 2 s, 4 s … with jitter.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 5)
	return d + rand.N(d/4+1)
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, auth string) (*response, error) {
	u := c.base + path + "?api-version=" + url.QueryEscape(c.apiVersion)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, &TransportError{Method: method, Path: path, Err: unwrapURLError(err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBodyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return nil, &TransportError{Method: method, Path: path, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if len(data) > maxBodyBytes {
		return nil, fmt.Errorf("%w: %s %s: answer larger than %d bytes", ErrMalformedResponse, method, path, maxBodyBytes)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return &response{status: res.StatusCode, header: res.Header, body: data}, nil
	}
	return nil, &Error{ServiceError: *apierr.Decode(method, path, res, data, c.now()), body: data}
}

// unwrapURLError drops net/http's *url.Error, whose text repeats the
// method and URL the TransportError already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// pollWait is the wait before the next poll: Retry-After, else the
// default, clamped.
func (c *Client) pollWait(h http.Header) time.Duration {
	d, ok := apierr.ParseRetryAfter(h.Get("Retry-After"), c.now())
	if !ok {
		d = c.poll
	}
	return c.clamp(d)
}

func (c *Client) clamp(d time.Duration) time.Duration {
	return min(max(d, c.minPoll), c.maxPoll)
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for registration %s: %w", c.regID, context.Cause(ctx))
	case <-t.C:
		return nil
	}
}
