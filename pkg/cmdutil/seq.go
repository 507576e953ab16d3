package cmdutil

import "iter"

// Limit stops a stream after n items (n <= 0: no limit). It backs --top.
func Limit[T any](seq iter.Seq2[T, error], n int) iter.Seq2[T, error] {
	if n <= 0 {
		return seq
	}
	return func(yield func(T, error) bool) {
		i := 0
		for it, err := range seq {
			if !yield(it, err) || err != nil {
				return
			}
			if i++; i >= n {
				return
			}
		}
	}
}
