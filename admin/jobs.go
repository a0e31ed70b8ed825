package admin

// jobRoutes registers the jobs pages.
func (a *Admin) jobRoutes() {}
