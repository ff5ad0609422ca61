package layers

// ReferenceTileSQL is the live tile query of l computing everything per
// row, without the columns stored for tiles: the stored columns must give
// the same tiles.
func ReferenceTileSQL(l *Layer) string {
	ref := *l
	ref.tileGeom, ref.tileSQL = "", nil
	return buildTileSQL(&ref, false)
}

// TileSQL is the query Reader.Tile runs, and TileArgs its arguments.
var (
	TileSQL  = tileSQL
	TileArgs = tileArgs
)
