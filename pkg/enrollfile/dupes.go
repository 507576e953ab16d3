package enrollfile

import (
	"container/heap"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
)

// DuplicateIndex finds registration IDs that occur more than once in a
// file without holding the IDs: it keeps a 64-bit hash per row (8 bytes, so
// a million rows take 8 MB), in blocks that are filled in place and never
// copied, so the index costs no more memory while it grows than when it is
// full. Hashes seen twice are only suspects; a second look at the rows
// concerned (DuplicateChecker) confirms them by comparing the IDs
// themselves, so a hash collision never rejects a row. IDs compare
// ignoring case, as the service compares them.
type DuplicateIndex struct {
	seed   maphash.Seed
	blocks [][]uint64
	n      int
}

// Sizes of the blocks of a DuplicateIndex: the first is small, each next
// one twice the size of the last, up to maxHashBlock hashes (512 KB).
const (
	minHashBlock = 512
	maxHashBlock = 1 << 16
)

// NewDuplicateIndex returns an empty index.
func NewDuplicateIndex() *DuplicateIndex { return &DuplicateIndex{seed: maphash.MakeSeed()} }

func (d *DuplicateIndex) hash(id string) uint64 {
	return maphash.String(d.seed, strings.ToLower(id))
}

// Add records one row's registration ID.
func (d *DuplicateIndex) Add(id string) {
	last := len(d.blocks) - 1
	if last < 0 || len(d.blocks[last]) == cap(d.blocks[last]) {
		size := minHashBlock
		if last >= 0 {
			size = min(2*cap(d.blocks[last]), maxHashBlock)
		}
		d.blocks = append(d.blocks, make([]uint64, 0, size))
		last++
	}
	d.blocks[last] = append(d.blocks[last], d.hash(id))
	d.n++
}

// Len returns the number of IDs added.
func (d *DuplicateIndex) Len() int { return d.n }

// Checker sorts the index and returns a checker for a second pass over the
// file, or nil when no hash occurs twice (then there are no duplicates and
// no second pass is needed). The index must not be added to afterwards.
func (d *DuplicateIndex) Checker() *DuplicateChecker {
	// Sort each block, then merge them, looking for a hash twice in a row.
	h := make(blockHeap, 0, len(d.blocks))
	for _, b := range d.blocks {
		if len(b) > 0 {
			slices.Sort(b)
			h = append(h, b)
		}
	}
	heap.Init(&h)
	suspects := map[uint64]bool{}
	var prev uint64
	for first := true; len(h) > 0; first = false {
		v := h[0][0]
		if !first && v == prev {
			suspects[v] = true
		}
		prev = v
		if h[0] = h[0][1:]; len(h[0]) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	d.blocks = nil
	if len(suspects) == 0 {
		return nil
	}
	return &DuplicateChecker{idx: d, suspects: suspects, first: map[string]int{}}
}

// blockHeap orders sorted blocks of hashes by their first hash.
type blockHeap [][]uint64

func (h blockHeap) Len() int           { return len(h) }
func (h blockHeap) Less(i, j int) bool { return h[i][0] < h[j][0] }
func (h blockHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *blockHeap) Push(x any)        { *h = append(*h, x.([]uint64)) }
func (h *blockHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// DuplicateChecker confirms suspected duplicates on a second pass over the
// rows, in file order. It holds only the IDs whose hash is a suspect.
type DuplicateChecker struct {
	// Column names the ID column in errors (registrationId when empty).
	Column string

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
		col := c.Column
		if col == "" {
			col = RegistrationID.String()
		}
		return &RowError{File: file, Line: line, Column: col, Err: fmt.Errorf("%q is a duplicate of line %d (IDs compare ignoring case)", id, prev)}
	}
	c.first[k] = line
	return nil
}
