"""ГБД ФЛ's HTTP routes, a module per resource (the population; people; a person's registry facts), all test support
behind the admin token. Other systems look people up through the gateway, never here."""
