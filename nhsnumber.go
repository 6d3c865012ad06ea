package mig

// ValidNHSNumber reports whether s is ten digits with a correct modulus 11
// check digit (NHS Data Dictionary).
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		if i < 9 {
			sum += int(c-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	if check == 10 {
		return false
	}
	return check == int(s[9]-'0')
}
