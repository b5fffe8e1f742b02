/* pool/list.h — intrusive circular doubly-linked lists (the node lives in the object). */
#ifndef PGLANE_POOL_LIST_H
#define PGLANE_POOL_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct pool_list {
	struct pool_list *next;
	struct pool_list *prev;
};

#define pool_container_of(ptr, type, member)                                                       \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void pool_list_init(struct pool_list *l)
{
	l->next = l->prev = l;
}

static inline bool pool_list_empty(const struct pool_list *l)
{
	return l->next == l;
}

/* Insert `item` at the tail of `head`. `item` must not be on a list. */
static inline void pool_list_append(struct pool_list *head, struct pool_list *item)
{
	item->prev = head->prev;
	item->next = head;
	head->prev->next = item;
	head->prev = item;
}

/* Remove `item` from whatever list holds it; harmless on a self-linked node. */
static inline void pool_list_remove(struct pool_list *item)
{
	item->prev->next = item->next;
	item->next->prev = item->prev;
	item->next = item->prev = item;
}

/* First node of `head`, or NULL when empty. */
static inline struct pool_list *pool_list_first(const struct pool_list *head)
{
	return pool_list_empty(head) ? NULL : head->next;
}

#define pool_list_foreach(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)
#define pool_list_foreach_safe(pos, tmp, head)                                                     \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif
