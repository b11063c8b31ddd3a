// Package mcc names merchant category codes (ISO 18245): the four digits a
// card network attaches to a merchant, turned into the words a customer
// reads under a card transaction ("Fast Food Restaurants").
//
// The table is compiled in, so the binary needs no data files at run time.
// It is a consumer-relevant subset of a public-domain list; see table.go for
// its source. Codes are always 4-character strings ("0742", never 742),
// because leading zeros are significant.
package mcc

import "slices"

// Lookup returns the description of a merchant category code, and whether
// the code is in the table.
func Lookup(code string) (description string, ok bool) {
	description, ok = descriptions[code]
	return description, ok
}

// Codes returns every code in the table, in ascending order. The slice is
// the caller's to keep.
func Codes() []string {
	codes := make([]string, 0, len(descriptions))
	for code := range descriptions {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}
