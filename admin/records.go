package admin

// recordRoutes registers the records pages.
func (a *Admin) recordRoutes() {}
