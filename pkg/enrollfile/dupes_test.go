package enrollfile

import (
	"fmt"
	"slices"
	"testing"
)

// TestDuplicateIndexAcrossBlocks puts duplicates in the same block, in
// distant blocks and at the ends of files large enough to need several
// blocks.
func TestDuplicateIndexAcrossBlocks(t *testing.T) {
	tests := []struct {
		name string
		rows int
		dups map[int]int // row -> the earlier row whose ID it repeats
	}{
		{name: "no duplicates, several blocks", rows: 3*maxHashBlock + 7},
		{name: "neighbours in the first block", rows: 1000, dups: map[int]int{11: 10}},
		{name: "first and last row", rows: 2*maxHashBlock + 3, dups: map[int]int{2*maxHashBlock + 2: 0}},
		{name: "distant blocks, one ID three times", rows: 2*maxHashBlock + 100, dups: map[int]int{maxHashBlock + 5: 7, 2*maxHashBlock + 50: 7, 600: 599}},
		{name: "one row", rows: 1},
		{name: "empty", rows: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := make([]string, tt.rows)
			for i := range ids {
				ids[i] = fmt.Sprintf("Dev-%07d", i)
				if j, ok := tt.dups[i]; ok {
					ids[i] = fmt.Sprintf("dEV-%07d", j) // the same ID in another case
				}
			}
			d := NewDuplicateIndex()
			for _, id := range ids {
				d.Add(id)
			}
			if d.Len() != tt.rows {
				t.Fatalf("Len = %d", d.Len())
			}
			c := d.Checker()
			if (c == nil) != (len(tt.dups) == 0) {
				t.Fatalf("checker %v with %d duplicates", c != nil, len(tt.dups))
			}
			if c == nil {
				return
			}
			var got []int
			for i, id := range ids {
				if c.Check("f", i, id) != nil {
					got = append(got, i)
				}
			}
			var want []int
			for i := range tt.dups {
				want = append(want, i)
			}
			slices.Sort(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("duplicates at %v, want %v", got, want)
			}
		})
	}
}

// BenchmarkDuplicateIndex adds a million IDs and sorts them.
func BenchmarkDuplicateIndex(b *testing.B) {
	ids := make([]string, 1_000_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%07d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := NewDuplicateIndex()
		for _, id := range ids {
			d.Add(id)
		}
		if d.Checker() != nil {
			b.Fatal("duplicates")
		}
	}
}
