/*
 * analytics_schema.c - the tables of the analytics part: migration step of
 * src/store/migrations.c.  Forward only once released.
 */

const char analytics_schema_sql[] = "SELECT 1;";
