package dps

// WithoutRetries returns a client of the same service and credentials that
// makes every call once and returns its failure, 429 included: for a caller
// that retries and paces its calls itself, and must therefore see each
// throttled answer (the importer).
func (c *Client) WithoutRetries() *Client {
	return &Client{
		base:       c.base,
		host:       c.host,
		hc:         c.hc,
		apiVersion: c.apiVersion,
		maxRetries: 0,
		userAgent:  c.userAgent,
		cs:         c.cs,
		lifetime:   c.lifetime,
		now:        c.now,
		sleep:      c.sleep,
	}
}
