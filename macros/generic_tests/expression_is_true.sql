{#- Passes when the boolean SQL expression holds on every row (optionally only where `where` holds). -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({{ expression | replace('{column}', column_name or '') }})

{% endtest %}
