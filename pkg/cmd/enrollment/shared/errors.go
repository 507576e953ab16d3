package shared

// Explain gives the usual service answers about enrollment id a clear
// message, keeping the service error in the chain.
func Explain(err error, id string) error { return Kind.Explain(err, id) }
