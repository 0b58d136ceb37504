/*
 * rules_schema.c - the tables of the rules part: migration step of
 * src/store/migrations.c.  Forward only once released.
 */

const char rules_schema_sql[] = "SELECT 1;";
