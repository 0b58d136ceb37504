/*
 * channels_schema.c - the tables of the channels part: migration step of
 * src/store/migrations.c.  Forward only once released.
 */

const char channels_schema_sql[] = "SELECT 1;";
