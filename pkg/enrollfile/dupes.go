package enrollfile

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
)

// DuplicateIndex finds registration IDs that occur more than once in a
// file without holding the IDs: it keeps a 64-bit hash per row (8 bytes, so
// a million rows take 8 MB). Hashes seen twice are only suspects; a second
// look at the rows concerned (DuplicateChecker) confirms them by comparing
// the IDs themselves, so a hash collision never rejects a row. IDs compare
// ignoring case, as the service compares them.
type DuplicateIndex struct {
	seed   maphash.Seed
	hashes []uint64
}

// NewDuplicateIndex returns an empty index.
func NewDuplicateIndex() *DuplicateIndex { return &DuplicateIndex{seed: maphash.MakeSeed()} }

func (d *DuplicateIndex) hash(id string) uint64 {
	return maphash.String(d.seed, strings.ToLower(id))
}

// Add records one row's registration ID.
func (d *DuplicateIndex) Add(id string) { d.hashes = append(d.hashes, d.hash(id)) }

// Len returns the number of IDs added.
func (d *DuplicateIndex) Len() int { return len(d.hashes) }

// Checker sorts the index and returns a checker for a second pass over the
// file, or nil when no hash occurs twice (then there are no duplicates and
// no second pass is needed). The index must not be added to afterwards.
func (d *DuplicateIndex) Checker() *DuplicateChecker {
	slices.Sort(d.hashes)
	suspects := map[uint64]bool{}
	for i := 1; i < len(d.hashes); i++ {
		if d.hashes[i] == d.hashes[i-1] {
			suspects[d.hashes[i]] = true
		}
	}
	d.hashes = nil
	if len(suspects) == 0 {
		return nil
	}
	return &DuplicateChecker{idx: d, suspects: suspects, first: map[string]int{}}
}

// DuplicateChecker confirms suspected duplicates on a second pass over the
// rows, in file order. It holds only the IDs whose hash is a suspect.
type DuplicateChecker struct {
	idx      *DuplicateIndex
	suspects map[uint64]bool
	first    map[string]int
}

// Check returns a *RowError when id already appeared on an earlier line
// passed to Check.
func (c *DuplicateChecker) Check(file string, line int, id string) *RowError {
	if !c.suspects[c.idx.hash(id)] {
		return nil
	}
	k := strings.ToLower(id)
	if prev, ok := c.first[k]; ok {
		return &RowError{File: file, Line: line, Column: RegistrationID.String(), Err: fmt.Errorf("%q is a duplicate of line %d (IDs compare ignoring case)", id, prev)}
	}
	c.first[k] = line
	return nil
}
