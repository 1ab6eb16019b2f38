package org.elasticsearch.plugins;

import org.elasticsearch.common.settings.Settings;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A PluginsService whose plugins are classes already on the JVM classpath (the jars Maven copied
 * into stack/lib/elasticsearch) instead of bundles unpacked under $ES_HOME/plugins. Lives in this
 * package because the LoadedPlugin record and loadPlugin(...) are package-private.
 */
public final class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> loaded;

    public ClasspathPluginsService(Settings settings, Path configDir, PluginsLoader loader, List<Class<? extends Plugin>> classes) {
        super(settings, configDir, loader);
        List<LoadedPlugin> list = new ArrayList<>();
        ClassLoader classLoader = ClasspathPluginsService.class.getClassLoader();
        for (Class<? extends Plugin> type : classes) {
            PluginDescriptor descriptor = new PluginDescriptor(
                type.getSimpleName(),            // name
                "loaded from the classpath",     // description
                "classpath",                     // version
                org.elasticsearch.Version.CURRENT.toString(), // elasticsearch version
                "17",                            // java version
                type.getName(),                  // class name
                null,                            // module name
                List.of(),                       // extended plugins
                false,                           // has native controller
                false,                           // licensed
                false,                           // modular
                false                            // is stable
            );
            list.add(new LoadedPlugin(descriptor, loadPlugin(type, settings, configDir), classLoader));
        }
        this.loaded = List.copyOf(list);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }
}
