// Package money validates amounts as the Bank API carries them: a decimal
// string and an ISO 4217 currency code. Amounts are never floats anywhere in
// OpenTeller; this package checks the string and the number of minor units,
// and does no arithmetic.
package money

import (
	"fmt"
	"strings"
)

// minorUnits holds ISO 4217 active codes (list of 2025) whose minor unit is
// not 2; every other code in codes has 2.
var minorUnits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// codes is every active ISO 4217 currency code that a bank account can hold
// (fund and precious-metal codes left out).
const codes = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD " +
	"CAD CDF CHF CLF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD " +
	"HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD " +
	"MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG " +
	"QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS " +
	"UAH UGX USD UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"

var known = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(codes) {
		m[c] = true
	}
	return m
}()

// MinorUnits returns how many digits a currency allows after the point, and
// whether the code is known.
func MinorUnits(currency string) (int, bool) {
	if !known[currency] {
		return 0, false
	}
	if n, ok := minorUnits[currency]; ok {
		return n, true
	}
	return 2, true
}

// maxIntegerDigits bounds amounts at under a quadrillion units: more than
// any account holds, and within an int64 of minor units.
const maxIntegerDigits = 15

// Check reports whether amount is a well-formed decimal for currency:
// digits with an optional point and at most the currency's minor units, no
// exponent, no leading zeros, no plus sign; a minus sign only if negative is
// allowed (balances can be overdrawn; transaction amounts cannot).
func Check(amount, currency string, negative bool) error {
	units, ok := MinorUnits(currency)
	if !ok {
		return fmt.Errorf("currency %q is not an ISO 4217 code", currency)
	}
	s := amount
	if strings.HasPrefix(s, "-") {
		if !negative {
			return fmt.Errorf("amount %q must not be negative", amount)
		}
		s = s[1:]
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || len(whole) > maxIntegerDigits || !digits(whole) || (len(whole) > 1 && whole[0] == '0') {
		return fmt.Errorf("amount %q is not a decimal number like \"1234.50\"", amount)
	}
	if hasPoint && (frac == "" || !digits(frac)) {
		return fmt.Errorf("amount %q is not a decimal number like \"1234.50\"", amount)
	}
	if len(frac) > units {
		return fmt.Errorf("amount %q has more than %d decimal places for %s", amount, units, currency)
	}
	if amount == "-0" || (strings.HasPrefix(amount, "-") && strings.Trim(s, "0.") == "") {
		return fmt.Errorf("amount %q: zero has no sign", amount)
	}
	return nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
