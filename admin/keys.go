package admin

// keyRoutes registers the keys pages.
func (a *Admin) keyRoutes() {}
