package ptr

import "testing"

func TestDerefAndSetDefault(t *testing.T) {
	var unset *int
	if Deref(unset) != 0 || Deref(To(7)) != 7 {
		t.Errorf("Deref: got %d and %d", Deref(unset), Deref(To(7)))
	}
	SetDefault(&unset, 3)
	given := To(5)
	SetDefault(&given, 3)
	if *unset != 3 || *given != 5 {
		t.Errorf("SetDefault: unset became %d, given became %d", *unset, *given)
	}
}
