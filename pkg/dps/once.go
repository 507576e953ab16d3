package dps

// WithoutRetries returns a client of the same service and credentials that
// makes every call once and returns its failure, 429 included: for a caller
// that retries and paces its calls itself, and must therefore see each
// throttled answer (the importer).
func (c *Client) WithoutRetries() *Client {
	cp := *c
	cp.maxRetries = 0
	return &cp
}
