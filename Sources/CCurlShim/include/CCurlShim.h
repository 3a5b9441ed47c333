#ifndef GARAGETYTUS_CCURLSHIM_H
#define GARAGETYTUS_CCURLSHIM_H
#include <curl/curl.h>
#include <stddef.h>

// curl_easy_setopt / curl_easy_getinfo are variadic: Swift cannot call them directly.
CURLcode ccurl_setopt_long(CURL *h, CURLoption opt, long value);
CURLcode ccurl_setopt_ptr(CURL *h, CURLoption opt, const void *value);
CURLcode ccurl_setopt_off(CURL *h, CURLoption opt, curl_off_t value);
typedef size_t (*ccurl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
CURLcode ccurl_setopt_write(CURL *h, ccurl_data_cb cb);
CURLcode ccurl_setopt_header(CURL *h, ccurl_data_cb cb);
CURLcode ccurl_setopt_read(CURL *h, ccurl_data_cb cb);
typedef int (*ccurl_seek_cb)(void *userdata, curl_off_t offset, int origin);
CURLcode ccurl_setopt_seek(CURL *h, ccurl_seek_cb cb);
CURLcode ccurl_getinfo_long(CURL *h, CURLINFO info, long *out);
#endif
