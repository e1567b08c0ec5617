/* Decoy: a web server's configuration reader and SOAP action dispatcher. It handles users and
 * authorisation, and compares input with many literals, some of which mix letters and digits
 * (Error401File, v6only, ipv6pdip, HNAP1 URLs); they are keywords of a table, not secrets. */
#include <stdio.h>
#include <string.h>

struct server {
    char realm[64], user_file[128], page401[128], page404[128];
    int v6only, port, ipv6pd, keepalive;
};

static void configure(struct server *srv, const char *key, const char *value)
{
    if (strcmp(key, "Realm") == 0) snprintf(srv->realm, sizeof srv->realm, "%s", value);
    else if (strcmp(key, "UserFile") == 0) snprintf(srv->user_file, sizeof srv->user_file, "%s", value);
    else if (strcmp(key, "Error401File") == 0) snprintf(srv->page401, sizeof srv->page401, "%s", value);
    else if (strcmp(key, "Error404File") == 0) snprintf(srv->page404, sizeof srv->page404, "%s", value);
    else if (strcmp(key, "v6only") == 0) srv->v6only = value[0] == '1';
    else if (strcmp(key, "ipv6pdip") == 0) srv->ipv6pd = value[0] == '1';
    else if (strcmp(key, "Port") == 0) sscanf(value, "%d", &srv->port);
    else if (strcmp(key, "KeepAlive") == 0) srv->keepalive = value[0] == 'o';
    else if (strcmp(key, "IndexNames") == 0) puts(value);
    else if (strcmp(key, "ErrorLog") == 0) puts(value);
    else if (strcmp(key, "RootDirectory") == 0) puts(value);
    else if (strcmp(key, "Authorization") == 0) puts("password protected");
    else fprintf(stderr, "user config: unknown key %s\n", key);
}

static int soap_action(const char *action)
{
    if (strcmp(action, "http://purenetworks.com/HNAP1/GetDeviceSettings") == 0) return 1;
    if (strcmp(action, "http://purenetworks.com/HNAP1/GetWLanRadios") == 0) return 2;
    if (strstr(action, "Login") != NULL) return 3;     /* the login action checks the password */
    return 0;
}

int main(void)
{
    struct server srv;
    char key[64], value[256];
    memset(&srv, 0, sizeof srv);
    while (scanf("%63s %255s", key, value) == 2)
        configure(&srv, key, value);
    if (scanf("%63s", key) == 1)
        printf("action %d, user file %s\n", soap_action(key), srv.user_file);
    return 0;
}
